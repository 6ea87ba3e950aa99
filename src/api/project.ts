import type { Request } from 'express';

/** Every span, prompt and key belongs to a project; until keys carry one, everything is "default". */
export const DEFAULT_PROJECT = 'default';

export function projectOf(_req: Request): string {
  return DEFAULT_PROJECT;
}
