import { UsageError } from './http.ts';

// The flags of "prompts register" that say what produced a version:
//   --derived-from NAME:V[,NAME:V]  (repeatable)   --optimizer NAME --optimizer-run ID
//   [--optimizer-dataset D --optimizer-scorer S --optimizer-score X]
// made into the registration's origin (see src/domain/origin.ts); the server checks the versions exist.

export const ORIGIN_OPTIONS = {
  'derived-from': { type: 'string', multiple: true },
  optimizer: { type: 'string' },
  'optimizer-run': { type: 'string' },
  'optimizer-dataset': { type: 'string' },
  'optimizer-scorer': { type: 'string' },
  'optimizer-score': { type: 'string' },
} as const;

export const ORIGIN_USAGE = `[--derived-from NAME:V[,NAME:V]] [--optimizer NAME --optimizer-run ID [--optimizer-dataset D] [--optimizer-scorer S] [--optimizer-score X]]`;

export interface OriginFlags {
  'derived-from'?: string[] | undefined;
  optimizer?: string | undefined;
  'optimizer-run'?: string | undefined;
  'optimizer-dataset'?: string | undefined;
  'optimizer-scorer'?: string | undefined;
  'optimizer-score'?: string | undefined;
}

/** The origin of a registration from its flags; undefined when none is given. */
export function originFromFlags(values: OriginFlags, usage: string) {
  const derivedFrom = (values['derived-from'] ?? [])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const m = /^(.+):v?(\d{1,10})$/i.exec(s);
      if (!m) throw new UsageError(`--derived-from takes NAME:VERSION (e.g. support-answer:3), not "${s}"`, usage);
      return { name: m[1]!, version: Number(m[2]) };
    });
  const details = (['optimizer-dataset', 'optimizer-scorer', 'optimizer-score'] as const).filter((k) => values[k] !== undefined);
  if ((values.optimizer === undefined) !== (values['optimizer-run'] === undefined)) {
    throw new UsageError('an optimizer run needs both --optimizer NAME and --optimizer-run ID', usage);
  }
  if (values.optimizer === undefined && details.length > 0) throw new UsageError(`${details.map((d) => `--${d}`).join(', ')} describe an optimizer run: give --optimizer and --optimizer-run too`, usage);
  let score: number | undefined;
  if (values['optimizer-score'] !== undefined) {
    score = Number(values['optimizer-score']);
    if (values['optimizer-score'].trim() === '' || !Number.isFinite(score)) throw new UsageError(`--optimizer-score must be a number, not "${values['optimizer-score']}"`, usage);
  }
  const optimizer =
    values.optimizer !== undefined
      ? {
          name: values.optimizer,
          runId: values['optimizer-run']!,
          ...(values['optimizer-dataset'] !== undefined ? { dataset: values['optimizer-dataset'] } : {}),
          ...(values['optimizer-scorer'] !== undefined ? { scorer: values['optimizer-scorer'] } : {}),
          ...(score !== undefined ? { score } : {}),
        }
      : undefined;
  if (derivedFrom.length === 0 && optimizer === undefined) return undefined;
  return { ...(derivedFrom.length > 0 ? { derivedFrom } : {}), ...(optimizer ? { optimizer } : {}) };
}
