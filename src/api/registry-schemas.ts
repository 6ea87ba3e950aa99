import { z } from 'zod';
import { CHAT_ROLES } from '../domain/prompt.ts';

// Response shapes of the registry API (requests are in src/registry/names.ts).

const template = z.union([
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({ type: z.literal('chat'), messages: z.array(z.object({ role: z.enum(CHAT_ROLES), content: z.string() })) }),
]);

const versionOrigin = z
  .object({
    derivedFrom: z.array(z.object({ name: z.string(), version: z.number().int() })).describe('The registered versions it was derived from.'),
    optimizer: z
      .object({ name: z.string(), runId: z.string(), dataset: z.string().nullable(), scorer: z.string().nullable(), score: z.number().nullable() })
      .nullable()
      .describe('The optimizer run that produced it, and the dataset it was trained on.'),
  })
  .describe('What produced the version, as its registration said; null when it said nothing.');

export const promptVersionAnswer = z.object({
  name: z.string(),
  version: z.number().int(),
  uri: z.string().describe('prompts:/NAME/VERSION'),
  template,
  templateHash: z.string().describe('sha256 of the template, hex'),
  variables: z.array(z.string()).describe('The {{variables}} the template uses.'),
  commitMessage: z.string(),
  author: z.string(),
  tags: z.array(z.string()),
  baseVersion: z.number().int().nullable(),
  origin: versionOrigin.nullable(),
  createdAt: z.string(),
});

export const versionListAnswer = z.object({ name: z.string(), total: z.number().int(), versions: z.array(promptVersionAnswer) });

export const promptListAnswer = z.object({
  prompts: z.array(z.object({ name: z.string(), latestVersion: z.number().int(), versions: z.number().int(), aliases: z.array(z.string()), updatedAt: z.string() })),
});

const aliasTarget = z.object({
  version: z.number().int().nullable(),
  split: z.object({ id: z.string(), arms: z.array(z.object({ version: z.number().int(), weight: z.number() })) }).nullable(),
});

export const aliasMoveAnswer = z.object({
  name: z.string(),
  alias: z.string(),
  seq: z.number().int(),
  at: z.string(),
  actor: z.string(),
  reason: z.string(),
  from: aliasTarget.nullable(),
  to: aliasTarget,
  rollback: z.boolean(),
  governance: z
    .object({ proposal: z.string().nullable(), step: z.number().int().nullable(), steps: z.number().int().nullable(), override: z.string().nullable() })
    .nullable()
    .describe('The proposal (and its merge step) this move merged, and an admin override of the alias policy; null for an ordinary move.'),
});

export const aliasAnswer = z.object({
  name: z.string(),
  alias: z.string(),
  at: z.string().describe('The time the answer is for.'),
  target: aliasTarget,
  since: aliasMoveAnswer,
  resolved: z
    .object({ version: z.number().int(), assignment: z.object({ splitId: z.string(), version: z.number().int(), key: z.string() }).nullable() })
    .nullable()
    .describe('The version a caller gets: the target, or for a split the arm its key falls in (null when a split is asked about without a key).'),
});

export const aliasListAnswer = z.object({ name: z.string(), aliases: z.array(aliasAnswer.omit({ resolved: true, at: true })) });
export const aliasHistoryAnswer = z.object({ name: z.string(), alias: z.string(), moves: z.array(aliasMoveAnswer) });

export const resolveAnswer = z.object({
  uri: z.string(),
  alias: z.string().nullable(),
  assignment: z.object({ splitId: z.string(), version: z.number().int(), key: z.string() }).nullable(),
  version: promptVersionAnswer,
});

export const renderAnswer = z.object({ name: z.string(), version: z.number().int(), templateHash: z.string(), rendered: template });

export const diffAnswer = z.object({
  name: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  type: z.enum(['text', 'chat', 'mixed']),
  unified: z.string(),
  added: z.number().int(),
  removed: z.number().int(),
  messages: z
    .array(
      z.object({
        index: z.number().int(),
        change: z.enum(['added', 'removed', 'changed', 'same']),
        from: z.object({ role: z.string(), content: z.string() }).optional(),
        to: z.object({ role: z.string(), content: z.string() }).optional(),
      }),
    )
    .optional(),
});

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('At most this many (1–500, default 50).'),
  offset: z.coerce.number().int().min(0).default(0).describe('Skip this many.'),
});
