import type { Request } from 'express';
import { principalOf } from './auth.ts';

/** Every span, prompt and key belongs to a project: the project of the calling key. */
export const DEFAULT_PROJECT = 'default';

export function projectOf(req: Request): string {
  return req.res ? principalOf(req.res).project : DEFAULT_PROJECT;
}

/** Who is making a change, for authors, alias history and the audit log. */
export function actorOf(req: Request): string {
  return req.res ? principalOf(req.res).actor : 'anonymous';
}
