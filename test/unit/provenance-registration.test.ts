import { describe, expect, it } from 'vitest';
import { provenanceByResponseId } from '../../src/api/controllers/provenance.ts';
import type { PromptCatalog, RegisteredPromptVersion } from '../../src/domain/prompt.ts';
import type { SpanLineage, SpanQueries, StoredRegistration } from '../../src/storage/span-store.ts';

// Provenance says whether a response's prompt was a registered version when the response was
// produced: the registration stored with the span, and the version's registration time against the
// span's start; the registry adds the commit message and author only of a version behind the
// response. Spans stored before ingest recorded it have the registry and the registration time.

function span(responseId: string, registration: StoredRegistration): SpanLineage {
  return {
    traceId: 'a'.repeat(32),
    spanId: 'b'.repeat(16),
    parentSpanId: '',
    spanName: 'chat gpt-4o',
    serviceName: 'support-bot',
    timestamp: '2026-01-02T03:04:05.000000000Z',
    durationNs: '1000',
    lineage: {
      prompt: { name: 'support-answer', version: '2', alias: '', templateHash: '' },
      promptSpanId: 'b'.repeat(16),
      model: { name: 'gpt-4o', provider: 'openai' },
      responseId,
      datasetIds: [],
      app: { name: 'support-bot', version: '1.0.0' },
      conversationId: '',
    },
    registration,
  };
}

function deps(stored: Record<string, StoredRegistration>, now: RegisteredPromptVersion | null) {
  const spans = { findByResponseId: async (_p: string, id: string) => (id in stored ? [span(id, stored[id]!)] : []) } as unknown as SpanQueries;
  const catalog: PromptCatalog = {
    lookup: async () => now,
  };
  return { deps: { spans, catalog } };
}

// The span started at 03:04:05; the version was registered a day before, or ten minutes after.
const before = new Date('2026-01-01T03:04:05.000Z');
const after = new Date('2026-01-02T03:14:05.000Z');
const registeredNow: RegisteredPromptVersion = { status: 'registered', commitMessage: 'shorter', author: 'ada', createdAt: before };
const registeredAfter: RegisteredPromptVersion = { ...registeredNow, createdAt: after };

describe('provenance says what held when the response was produced', () => {
  it('takes registered and template_mismatch from the span, and the commit message, author and registration time from the registry', async () => {
    const { deps: d } = deps({ ok: 'registered', edited: 'template_mismatch' }, { ...registeredNow, status: 'template_mismatch' });
    expect((await provenanceByResponseId(d, 'default', 'ok')).prompt).toMatchObject({ registered: true, registration: 'registered', registeredAt: before.toISOString(), commitMessage: 'shorter', author: 'ada' });
    expect((await provenanceByResponseId(d, 'default', 'edited')).prompt).toMatchObject({ registered: false, registration: 'template_mismatch', commitMessage: 'shorter' });
  });

  it('says unregistered when the version was not registered when the span arrived and is not now', async () => {
    const { deps: d } = deps({ early: 'unregistered' }, null);
    expect((await provenanceByResponseId(d, 'default', 'early')).prompt).toMatchObject({ registered: false, registration: 'unregistered', registeredAt: null, commitMessage: null, author: null });
  });

  it('says registered later, without its commit message or author, for a version the writer did not find then', async () => {
    for (const now of [registeredAfter, registeredNow]) {
      const { deps: d } = deps({ early: 'unregistered' }, now);
      expect((await provenanceByResponseId(d, 'default', 'early')).prompt).toEqual(expect.objectContaining({ registered: false, registration: 'registered_later', registeredAt: now.createdAt.toISOString(), commitMessage: null, author: null }));
    }
  });

  it('says registered later for a span stored registered whose response started before the version was registered', async () => {
    const { deps: d } = deps({ replayed: 'registered', old: '' }, registeredAfter);
    for (const id of ['replayed', 'old']) {
      expect((await provenanceByResponseId(d, 'default', id)).prompt).toMatchObject({ registered: false, registration: 'registered_later', registeredAt: after.toISOString(), commitMessage: null, author: null });
    }
  });

  it('asks the registry for a span stored without a registration', async () => {
    const { deps: d } = deps({ old: '' }, registeredNow);
    expect((await provenanceByResponseId(d, 'default', 'old')).prompt).toMatchObject({ registered: true, registration: 'registered', commitMessage: 'shorter' });
    const { deps: none } = deps({ old: '' }, null);
    expect((await provenanceByResponseId(none, 'default', 'old')).prompt).toMatchObject({ registered: false, registration: 'unregistered', commitMessage: null });
  });
});
