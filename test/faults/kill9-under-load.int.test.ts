import { afterAll, describe, expect, it } from 'vitest';
import { rawGrpcExporter } from '../helpers/grpc.ts';
import { exportRequest, jsonSpan, str, toProtobuf } from '../helpers/otlp-payloads.ts';
import { eventually, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// kill -9 in the middle of ingest under load, then a restart on the same data directory: every
// request that was acknowledged is answered, each span exactly once. Requests in flight at the
// kill may or may not have been kept (they were never acknowledged), but never twice. The load
// comes over both receivers: OTLP/HTTP (JSON and protobuf) and OTLP/gRPC (plain and gzip), where
// an OK is the acknowledgement.

interface Sent {
  traceId: string;
  spanIds: string[];
}

function agentTrace(i: number): { body: object; sent: Sent } {
  const root = jsonSpan({ name: 'invoke_agent', attributes: [str('gen_ai.prompt.name', 'load-prompt'), str('gen_ai.prompt.version', String(1 + (i % 4)))] });
  const children = [1, 2, 3, 4].map((k) =>
    jsonSpan({ traceId: root.traceId, parentSpanId: root.spanId, name: 'chat', attributes: [str('gen_ai.response.id', `load-${i}-${k}`), str('gen_ai.response.model', 'gpt-4o'), str('gen_ai.input.messages', 'x'.repeat(1500))] }),
  );
  return { body: exportRequest([root, ...children]), sent: { traceId: root.traceId, spanIds: [root.spanId, ...children.map((c) => c.spanId)] } };
}

describe('kill -9 in the middle of ingest under load', () => {
  let server: ServerUnderTest | undefined;
  let restarted: ServerUnderTest | undefined;
  afterAll(async () => {
    await restarted?.stop();
    await server?.kill();
    if (server) removeDir(server.dataDir);
  });

  it('keeps every acknowledged span, exactly once, after a restart', { timeout: 180_000 }, async () => {
    server = await startServer({ env: { PROMPTLINE_FLUSH_INTERVAL_MS: '50', PROMPTLINE_BATCH_MAX_SPANS: '400' } });
    const url = server.url;
    const acked: Sent[] = [];
    const inFlightAtKill: Sent[] = [];
    let sent = 0;
    let next = 0;
    let killed = false;
    type Transport = 'json' | 'protobuf' | 'grpc' | 'grpc+gzip';
    const ackedBy = new Map<Transport, number>();
    const grpcClients = { grpc: rawGrpcExporter(server.grpcAddress), 'grpc+gzip': rawGrpcExporter(server.grpcAddress, { gzip: true }) };
    const send = async (transport: Transport, body: object): Promise<void> => {
      if (transport === 'grpc' || transport === 'grpc+gzip') {
        const answer = await grpcClients[transport].export(toProtobuf(body as never));
        if (!answer.ok) throw new Error(`gRPC export answered ${answer.code}: ${answer.message}`);
        if (answer.rejectedSpans > 0) throw new Error(`gRPC export refused ${answer.rejectedSpans} span(s): ${answer.errorMessage}`);
        return;
      }
      const res =
        transport === 'protobuf'
          ? await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: toProtobuf(body as never) })
          : await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`export answered ${res.status}`);
    };
    const sender = async (transport: Transport) => {
      while (!killed) {
        const { body, sent: s } = agentTrace(next++);
        sent++;
        try {
          await send(transport, body);
          acked.push(s);
          ackedBy.set(transport, (ackedBy.get(transport) ?? 0) + 1);
        } catch (err) {
          if (!killed) throw err;
          inFlightAtKill.push(s);
        }
      }
    };
    const senders = [sender('json'), sender('protobuf'), sender('grpc'), sender('grpc+gzip')];
    // Kill once enough is acknowledged, over each receiver, that some of it is surely not yet in the stores.
    await eventually(async () => (acked.length >= 300 && (ackedBy.get('grpc') ?? 0) + (ackedBy.get('grpc+gzip') ?? 0) >= 100 ? true : undefined), '300 acknowledged requests, 100 of them over gRPC', 120_000);
    killed = true;
    await server.kill();
    await Promise.all(senders);
    for (const c of Object.values(grpcClients)) c.close();

    restarted = await startServer({ dataDir: server.dataDir });
    expect(restarted.output()).toMatch(/replaying|ready in/);
    await eventually(async () => {
      const r = (await (await fetch(`${restarted!.url}/readyz`)).json()) as { spool: { pendingRecords: number }; writer: { queuedRecords: number } };
      return r.spool.pendingRecords === 0 && r.writer.queuedRecords === 0 ? true : undefined;
    }, 'the replayed spool to drain', 120_000);

    let foundSpans = 0;
    const problems: string[] = [];
    const check = async (s: Sent, mustExist: boolean) => {
      const res = await fetch(`${restarted!.url}/v1/traces/${s.traceId}`);
      if (res.status === 404) {
        if (mustExist) problems.push(`acknowledged trace ${s.traceId} is missing`);
        return;
      }
      const body = (await res.json()) as { spans: Array<{ spanId: string }> };
      const ids = body.spans.map((x) => x.spanId).sort();
      if (JSON.stringify(ids) !== JSON.stringify([...s.spanIds].sort())) problems.push(`trace ${s.traceId} holds ${ids.length} spans, expected each of ${s.spanIds.length} once`);
      foundSpans += ids.length;
    };
    for (const s of acked) await check(s, true);
    for (const s of inFlightAtKill) await check(s, false);
    console.log(
      `kill -9 under load: sent ${sent} requests (${sent * 5} spans), acknowledged ${acked.length} (${acked.length * 5} spans; ` +
        `${[...ackedBy].map(([t, n]) => `${t} ${n}`).join(', ')}), ` +
        `in flight at the kill ${inFlightAtKill.length}, replayed from the spool at restart: ${/replaying/.test(restarted.output()) ? 'yes' : 'no'}, ` +
        `spans found after restart ${foundSpans}, problems ${problems.length}`,
    );
    expect(problems).toEqual([]);
  });
});
