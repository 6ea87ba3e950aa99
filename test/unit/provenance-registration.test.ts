import { describe, expect, it } from 'vitest';
import { provenanceByResponseId } from '../../src/api/controllers/provenance.ts';
import type { PromptCatalog, RegisteredPromptVersion } from '../../src/domain/prompt.ts';
import type { SpanLineage, SpanQueries, StoredRegistration } from '../../src/storage/span-store.ts';

// Provenance says whether a response's prompt was a registered version when the span was stored
// (the stored column), not what the registry says now; the registry adds the commit message and
// author. Spans stored before ingest recorded it have only what the registry says now.

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
  const asked: string[] = [];
  const spans = { findByResponseId: async (_p: string, id: string) => (id in stored ? [span(id, stored[id]!)] : []) } as unknown as SpanQueries;
  const catalog: PromptCatalog = {
    lookup: async (_p, prompt) => {
      asked.push(prompt.name);
      return now;
    },
  };
  return { deps: { spans, catalog }, asked };
}

const registeredNow: RegisteredPromptVersion = { status: 'registered', commitMessage: 'shorter', author: 'ada' };

describe('provenance reads the registration stored with the span', () => {
  it('takes registered and template_mismatch from the span, and the commit message and author from the registry', async () => {
    const { deps: d } = deps({ ok: 'registered', edited: 'template_mismatch' }, { ...registeredNow, status: 'template_mismatch' });
    expect((await provenanceByResponseId(d, 'default', 'ok')).prompt).toMatchObject({ registered: true, registration: 'registered', commitMessage: 'shorter', author: 'ada' });
    expect((await provenanceByResponseId(d, 'default', 'edited')).prompt).toMatchObject({ registered: false, registration: 'template_mismatch', commitMessage: 'shorter' });
  });

  it('says unregistered when the version was not registered when the span arrived, whatever the registry says now', async () => {
    const { deps: d, asked } = deps({ early: 'unregistered' }, registeredNow);
    expect((await provenanceByResponseId(d, 'default', 'early')).prompt).toMatchObject({ registered: false, registration: 'unregistered', commitMessage: null, author: null });
    expect(asked).toEqual([]);
  });

  it('asks the registry for a span stored without a registration', async () => {
    const { deps: d } = deps({ old: '' }, registeredNow);
    expect((await provenanceByResponseId(d, 'default', 'old')).prompt).toMatchObject({ registered: true, registration: 'registered', commitMessage: 'shorter' });
    const { deps: none } = deps({ old: '' }, null);
    expect((await provenanceByResponseId(none, 'default', 'old')).prompt).toMatchObject({ registered: false, registration: 'unregistered', commitMessage: null });
  });
});
