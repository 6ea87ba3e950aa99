import { z } from 'zod';
import { CHAT_ROLES } from '../domain/prompt.ts';

// What the registry accepts. Seen prompts (from spans) may be named anything; registered ones are
// named so that URIs, CLIs and URLs never need quoting.

export const PROMPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const ALIAS_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
/** Aliases the registry computes and no one can set. */
export const RESERVED_ALIASES = new Set(['latest']);

export const LIMITS = Object.freeze({
  templateChars: 256 * 1024,
  chatMessages: 200,
  commitMessageChars: 2_000,
  tags: 32,
  tagChars: 64,
  reasonChars: 2_000,
  splitArms: 10,
  derivedFrom: 32,
  originChars: 256,
});

export const promptName = z
  .string()
  .regex(PROMPT_NAME, 'a prompt name is 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit');

export const aliasName = z
  .string()
  .regex(ALIAS_NAME, 'an alias is 1 to 64 lower-case letters, digits, "_" or "-", starting with a letter')
  .refine((a) => !RESERVED_ALIASES.has(a), 'the alias "latest" is reserved: it always means the newest version');

export const versionNumber = z.coerce.number().int('a version is a whole number').min(1, 'versions start at 1').max(1_000_000_000);

/**
 * Free text as it will be stored and answered. A lone UTF-16 surrogate (JSON can carry one, UTF-8
 * cannot) becomes U+FFFD here, once, as the OTLP decoders do for span text: otherwise a store
 * would change it on the way in, and the registry's answer, the stored record and its audit entry
 * would hold different strings. Refusing it would fail a commit over a character no one can see,
 * usually half an emoji cut by a client. Template hashes do not change: they hash the UTF-8 bytes,
 * where a lone surrogate already is U+FFFD.
 */
export const text = () => z.string().overwrite((s) => s.toWellFormed());

const nonBlank = (max: number, what: string) =>
  text()
    .max(max, `${what} is longer than ${max} characters`)
    .refine((s) => s.trim().length > 0, `${what} is empty`);

export const templateInput = z.union([
  nonBlank(LIMITS.templateChars, 'the template'),
  z.object({
    messages: z
      .array(z.object({ role: z.enum(CHAT_ROLES), content: nonBlank(LIMITS.templateChars, 'a message') }).strict())
      .min(1, 'a chat template has at least one message')
      .max(LIMITS.chatMessages, `a chat template has at most ${LIMITS.chatMessages} messages`),
  }).strict(),
]);

const originText = (what: string) =>
  text()
    .max(LIMITS.originChars, `${what} is longer than ${LIMITS.originChars} characters`)
    .refine((s) => s.trim().length > 0, `${what} is empty`);

/** What produced a version (see src/domain/origin.ts); the versions it names must be registered. */
export const versionOriginInput = z
  .object({
    derivedFrom: z
      .array(z.object({ name: promptName, version: versionNumber }).strict())
      .max(LIMITS.derivedFrom, `a version is derived from at most ${LIMITS.derivedFrom} versions`)
      .optional()
      .describe('Registered versions (of this prompt or others) it was derived from.'),
    optimizer: z
      .object({
        name: originText('the optimizer name').describe('The optimizer, e.g. dspy.MIPROv2 or gepa.'),
        runId: originText('the optimizer run id'),
        dataset: originText('the dataset id').optional().describe('The dataset it was trained on: the id spans carry.'),
        scorer: originText('the scorer').optional(),
        score: z.number().optional(),
      })
      .strict()
      .optional()
      .describe('The optimizer run that produced it.'),
  })
  .strict();

export const registerVersionBody = z
  .object({
    template: templateInput,
    commitMessage: nonBlank(LIMITS.commitMessageChars, 'the commit message'),
    tags: z.array(text().min(1).max(LIMITS.tagChars)).max(LIMITS.tags).default([]),
    baseVersion: versionNumber.optional().describe('The version this one is derived from; by default the latest.'),
    origin: versionOriginInput.optional().describe('What produced it: versions it was derived from, an optimizer run. Stored with the version.'),
  })
  .strict();

export const splitArmInput = z.object({ version: versionNumber, weight: z.number().positive('a weight is a positive percentage').max(100) }).strict();

export const moveAliasBody = z
  .object({
    version: versionNumber.optional(),
    split: z.array(splitArmInput).min(2, 'a split has at least two versions').max(LIMITS.splitArms).optional(),
    reason: nonBlank(LIMITS.reasonChars, 'the reason'),
    expectSeq: z.number().int().min(0).optional().describe('Move only if the alias is still at this move (0: not yet set).'),
    override: nonBlank(LIMITS.reasonChars, 'the override reason').optional().describe("Admins only: move a protected alias that has a policy without a proposal; the reason is recorded as an override."),
  })
  .strict()
  .refine((b) => (b.version === undefined) !== (b.split === undefined), { error: 'give either a version or a split, not both' })
  .refine((b) => !b.split || Math.abs(b.split.reduce((n, a) => n + a.weight, 0) - 100) < 1e-9, { error: 'the weights of a split add up to 100' })
  .refine((b) => !b.split || new Set(b.split.map((a) => a.version)).size === b.split.length, { error: 'a version appears once in a split' });
