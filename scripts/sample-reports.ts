// Writes the sample compliance reports in docs/reports/ from a real server: a support agent's
// prompt with three versions and a production alias that moved, an agent trace that used it with
// two datasets, and evaluation evidence from a run before the release and from the response itself;
// and an earlier response from a version registered only after it.
//
//   npx node scripts/sample-reports.ts
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { eventually, removeDir, startServer } from '../test/helpers/server.ts';

const out = resolve(import.meta.dirname, '../docs/reports');
const server = await startServer();
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res;
};
try {
  const prompt = 'refund-answer';
  await call('POST', `/v1/prompts/${prompt}/versions`, { template: { messages: [{ role: 'system', content: 'You answer refund questions for {{shop}}. Quote the policy.' }, { role: 'user', content: '{{question}}' }] }, commitMessage: 'First version for the refunds queue', tags: ['refunds'] });
  await call('POST', `/v1/prompts/${prompt}/versions`, { template: { messages: [{ role: 'system', content: 'You answer refund questions for {{shop}}. Quote the policy section by number. Never promise a refund the policy does not allow.' }, { role: 'user', content: '{{question}}' }] }, commitMessage: 'Cite policy sections; forbid promises outside policy (legal review LR-214)', tags: ['refunds', 'legal-reviewed'] });
  await call('PUT', `/v1/prompts/${prompt}/aliases/production`, { version: 1, reason: 'initial release' });
  await call('POST', '/v1/evaluations', { runId: 'pre-release-2026-11-20', scorer: 'policy-compliance', prompt: `prompts:/${prompt}/2`, datasetId: 'refund-cases-v4', results: [{ score: 1, itemId: 'case-1' }, { score: 1, itemId: 'case-2' }, { score: 0, itemId: 'case-3', label: 'cited wrong section' }, { score: 1, itemId: 'case-4' }] });
  await new Promise((r) => setTimeout(r, 20));
  await call('PUT', `/v1/prompts/${prompt}/aliases/production`, { version: 2, reason: 'policy compliance 0.75 → rollout approved by J. Doe (CHG-5521)' });

  const traceId = randomBytes(16).toString('hex');
  const stepId = randomBytes(8).toString('hex');
  const now = BigInt(Date.now() + 1000) * 1_000_000n;
  const kv = (key: string, value: string | number) => (typeof value === 'number' ? { key, value: { intValue: String(value) } } : { key, value: { stringValue: value } });
  const responseId = 'chatcmpl-9Qx2refund7731';
  await call('POST', '/v1/traces', {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', 'support-bot'), kv('service.version', '3.2.0')] },
        scopeSpans: [
          {
            scope: { name: '@promptline/instrumentation' },
            spans: [
              { traceId, spanId: stepId, name: 'invoke_agent refunds', kind: 1, startTimeUnixNano: now.toString(), endTimeUnixNano: (now + 2_400_000_000n).toString(), attributes: [kv('gen_ai.operation.name', 'invoke_agent'), kv('gen_ai.prompt.name', prompt), kv('gen_ai.prompt.version', 2), kv('promptline.prompt.alias', 'production'), { key: 'promptline.dataset.ids', value: { arrayValue: { values: [{ stringValue: 'refund-policy-2026-11' }, { stringValue: 'order-history' }] } } }, kv('gen_ai.conversation.id', 'conv-58213')] },
              { traceId, spanId: randomBytes(8).toString('hex'), parentSpanId: stepId, name: 'chat gpt-4o', kind: 3, startTimeUnixNano: (now + 100_000_000n).toString(), endTimeUnixNano: (now + 2_300_000_000n).toString(), attributes: [kv('gen_ai.operation.name', 'chat'), kv('gen_ai.provider.name', 'openai'), kv('gen_ai.request.model', 'gpt-4o'), kv('gen_ai.response.model', 'gpt-4o-2024-08-06'), kv('gen_ai.response.id', responseId), kv('gen_ai.usage.input_tokens', 912), kv('gen_ai.usage.output_tokens', 188)], events: [{ timeUnixNano: (now + 2_300_000_000n).toString(), name: 'gen_ai.evaluation.result', attributes: [kv('gen_ai.evaluation.name', 'policy-compliance'), { key: 'gen_ai.evaluation.score.value', value: { doubleValue: 1 } }, kv('gen_ai.evaluation.score.label', 'compliant'), kv('promptline.evaluation.run.id', 'online-guardrail')] }] },
            ],
          },
        ],
      },
    ],
  });
  // An hour earlier, an answer from a version 3 the app had but no one had registered; it was
  // registered after the incident. Its report says so, and shows nothing of version 3 as behind it.
  const earlier = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  const laterId = 'chatcmpl-9Qx2refund6950';
  await call('POST', '/v1/traces', {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', 'support-bot'), kv('service.version', '3.1.9')] },
        scopeSpans: [{ scope: { name: '@promptline/instrumentation' }, spans: [{ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), name: 'chat gpt-4o', kind: 3, startTimeUnixNano: earlier.toString(), endTimeUnixNano: (earlier + 1_900_000_000n).toString(), attributes: [kv('gen_ai.prompt.name', prompt), kv('gen_ai.prompt.version', 3), kv('gen_ai.provider.name', 'openai'), kv('gen_ai.response.model', 'gpt-4o-2024-08-06'), kv('gen_ai.response.id', laterId), kv('gen_ai.conversation.id', 'conv-57940')] }] }],
      },
    ],
  });
  const ingested = () =>
    eventually(async () => {
      const r = (await (await fetch(`${server.url}/readyz`)).json()) as { writer: { queuedRecords: number }; spool: { pendingRecords: number } };
      return r.writer.queuedRecords === 0 && r.spool.pendingRecords === 0 ? true : undefined;
    }, 'ingest');
  await ingested();
  await call('POST', `/v1/prompts/${prompt}/versions`, { template: { messages: [{ role: 'system', content: 'You answer refund questions for {{shop}}. Quote the policy section by number.' }, { role: 'user', content: '{{question}}' }] }, commitMessage: 'Register the version support-bot 3.1.9 shipped with (INC-4471)', tags: ['refunds'] });
  for (const id of [responseId, laterId]) {
    for (const format of ['markdown', 'html'] as const) {
      const res = await call('GET', `/v1/reports/compliance?response_id=${id}&format=${format}`);
      const file = join(out, `response-${id}.${format === 'markdown' ? 'md' : 'html'}`);
      writeFileSync(file, await res.text());
      console.log(`wrote ${file} (content hash ${res.headers.get('x-content-hash')})`);
    }
  }
} finally {
  await server.stop();
  removeDir(server.dataDir);
}
