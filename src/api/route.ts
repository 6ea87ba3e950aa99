import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { Permission } from '../domain/governance.ts';
import type { Principal } from '../governance/access.ts';
import type { ApiServices } from './services.ts';

// A route is declared once: method, path, who may call it, what it takes and answers, and what it
// does. The Express router, the authorization check and the OpenAPI document are all derived from
// these declarations (mount.ts, openapi.ts), so a route cannot be served without a permission and
// the document cannot miss one.

export const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
export type Method = (typeof METHODS)[number];

/**
 * Who may call a route: a permission a key's role grants; `authenticated` for any valid key; `public`
 * for no key at all (liveness only).
 */
export type Access = Permission | 'authenticated' | 'public';
export const ACCESS_LEVELS: ReadonlySet<string> = new Set<Access>(['ingest', 'prompts', 'read', 'edit', 'promote', 'admin', 'metrics', 'propose', 'authenticated', 'public']);

type AnyObject = z.ZodObject;

/** A documented answer: a JSON schema, or other media types described by hand (OTLP, reports). */
export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
  content?: Record<string, { schema: Record<string, unknown> }>;
}

/** What a handler gets: the validated input and the caller; the raw request for streaming bodies. */
export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal;
  /**
   * The project the call acts on: every read and write is confined to it. The calling key's own, or
   * for an instance admin the one the X-Promptline-Project header names.
   */
  project: string;
  /** How changes by this caller are attributed (authors, alias history, audit log). */
  actor: string;
  req: Request;
  res: Response;
}

export interface RouteDeclaration<P extends AnyObject = AnyObject, Q extends AnyObject = AnyObject, B extends z.ZodType = z.ZodType> {
  method: Method;
  /** OpenAPI form: /v1/prompts/{name}/versions. Matched case-sensitively and strictly. */
  path: string;
  access: Access;
  /** Completes "this key may not …" in a 403. */
  what: string;
  /** Grouping in the OpenAPI document. */
  tag: string;
  summary: string;
  description?: string;
  params?: P;
  query?: Q;
  /** A JSON body, parsed up to `limit` and validated by `schema`. */
  body?: { schema: B; limit: string };
  /** The body's JSON schema in the document, where `body.schema` checks too little to say it (z.unknown()). */
  bodyDoc?: Record<string, unknown>;
  /** The handler reads the body itself (OTLP), documented by these media types. */
  rawBody?: Record<string, { schema: Record<string, unknown> }>;
  /** Failures answer as google.rpc.Status in the request's encoding, as OTLP exporters expect. */
  otlpErrors?: boolean;
  /** `scan`: answered by scanning many spans; a project may have only a few such requests in flight (ScanBudget). */
  cost?: 'scan';
  responses: Record<string, ResponseDoc>;
  handle(ctx: RouteContext<z.infer<P>, z.infer<Q>, z.infer<B>>, services: ApiServices): unknown;
}

/** Declares a route with its input types inferred from its schemas. */
export function route<P extends AnyObject = AnyObject, Q extends AnyObject = AnyObject, B extends z.ZodType = z.ZodType>(
  declaration: RouteDeclaration<P, Q, B>,
): RouteDeclaration {
  return declaration;
}

/** /v1/prompts/{name} → /v1/prompts/:name, for Express. */
export function expressPath(path: string): string {
  return path.replace(/\{([A-Za-z][A-Za-z0-9_]*)\}/g, ':$1');
}
