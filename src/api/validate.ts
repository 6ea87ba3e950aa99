import type { z } from 'zod';
import { BadRequestError } from '../common/errors.ts';

/** Parses input with a schema; a failure is a 400 that names each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const detail = r.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
  throw new BadRequestError(detail);
}
