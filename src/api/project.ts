import type { Request } from 'express';

/** Every span, prompt and key belongs to a project; until keys carry one, everything is "default". */
export const DEFAULT_PROJECT = 'default';

export function projectOf(_req: Request): string {
  return DEFAULT_PROJECT;
}

/** Who is making a change, for authors and alias history; until keys name their holders, "anonymous". */
export function actorOf(_req: Request): string {
  return 'anonymous';
}
