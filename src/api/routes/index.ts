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
import { driftRoutes } from './drift.ts';
import { monitorRoutes } from './monitors.ts';
import { webhookRoutes } from './webhooks.ts';
import { proposalRoutes } from './proposals.ts';

/** Every route the API serves, and nothing else: the router, the authorization and the OpenAPI document are made from this list. */
export const ROUTES: readonly RouteDeclaration[] = [...healthRoutes, ...lineageRoutes, ...registryRoutes, ...proposalRoutes, ...impactRoutes, ...whatChangedRoutes, ...driftRoutes, ...monitorRoutes, ...searchRoutes, ...governanceRoutes, ...sessionRoutes, ...auditRoutes, ...retentionRoutes, ...webhookRoutes, ...metricsRoutes];
