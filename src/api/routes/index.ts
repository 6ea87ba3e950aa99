import type { RouteDeclaration } from '../route.ts';
import { auditRoutes } from './audit.ts';
import { governanceRoutes } from './governance.ts';
import { healthRoutes } from './health.ts';
import { impactRoutes } from './impact.ts';
import { lineageRoutes } from './lineage.ts';
import { metricsRoutes } from './metrics.ts';
import { registryRoutes } from './registry.ts';
import { retentionRoutes } from './retention.ts';
import { searchRoutes } from './search.ts';
import { sessionRoutes } from './session.ts';
import { whatChangedRoutes } from './what-changed.ts';

/** Every route the API serves, and nothing else: the router, the authorization and the OpenAPI document are made from this list. */
export const ROUTES: readonly RouteDeclaration[] = [...healthRoutes, ...lineageRoutes, ...registryRoutes, ...impactRoutes, ...whatChangedRoutes, ...searchRoutes, ...governanceRoutes, ...sessionRoutes, ...auditRoutes, ...retentionRoutes, ...metricsRoutes];
