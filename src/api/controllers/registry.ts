import type { AliasMove, AliasState, PromptVersion } from '../../domain/prompt.ts';
import { BadRequestError } from '../../common/errors.ts';
import type { RegistryService } from '../../registry/registry-service.ts';
import { templateVariables } from '../../registry/render.ts';
import { assignArm } from '../../registry/split.ts';
import { formatPromptUri } from '../../registry/uri.ts';

// Registry answers as the API gives them (dates as ISO strings, URIs spelled out).

export function versionAnswer(v: PromptVersion) {
  return {
    name: v.name,
    version: v.version,
    uri: formatPromptUri({ name: v.name, version: v.version }),
    template: v.template,
    templateHash: v.templateHash,
    variables: templateVariables(v.template),
    commitMessage: v.commitMessage,
    author: v.author,
    tags: v.tags,
    baseVersion: v.baseVersion,
    origin: v.origin ?? null,
    createdAt: v.createdAt.toISOString(),
  };
}

export function moveAnswer(m: AliasMove) {
  return { name: m.name, alias: m.alias, seq: m.seq, at: m.at.toISOString(), actor: m.actor, reason: m.reason, from: m.from, to: m.to, rollback: m.rollback, governance: m.governance ?? null };
}

export function aliasStateAnswer(s: AliasState, at: Date, key: string | undefined) {
  const split = s.target.split;
  const resolved = split
    ? key
      ? { version: assignArm(split, key).version, assignment: { splitId: split.id, version: assignArm(split, key).version, key } }
      : null
    : { version: s.target.version, assignment: null };
  return { name: s.name, alias: s.alias, at: at.toISOString(), target: s.target, since: moveAnswer(s.since), resolved };
}

/** Template variables from a JSON object, kept in a Map: names such as "__proto__" are data. */
export function variablesFrom(body: unknown): Map<string, string> {
  const vars = (body as { variables?: unknown } | undefined)?.variables ?? {};
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) throw new BadRequestError('variables must be an object of names to values');
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(vars)) {
    if (typeof v === 'string') out.set(k, v);
    else if (typeof v === 'number' || typeof v === 'boolean') out.set(k, String(v));
    else throw new BadRequestError(`variable "${k}" must be a string, number or boolean`);
  }
  return out;
}

export async function resolveAnswerFor(service: RegistryService, projectId: string, uri: string, opts: { key?: string | undefined; at?: Date | undefined }) {
  const r = await service.resolve(projectId, uri, opts);
  return { uri, alias: r.alias, assignment: r.assignment, version: versionAnswer(r.version) };
}
