// The load generator: its own process (forked by bench/run.ts), OTLP/protobuf over HTTP on
// loopback. Open loop sends at a target rate whatever the answers (latency is measured from the
// moment a request was due, so a slow server cannot hide its queueing); closed loop keeps
// `concurrency` requests in flight back to back, at the highest rate the server takes.
//
// Every request is a stamped copy of a template (bench/payloads.ts): its trace ids carry the
// run id and the request's number, so the store can be checked afterwards for every span of every
// acknowledged request. It reports what it sent and what was acknowledged (200 with no rejected
// spans), per second and in total, with each acknowledged request's number.
//
//   forked with one argument: a JSON LoadConfig; reports a LoadResult as its last IPC message.
import { Agent, request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { decodeProtobufExportResponse } from '../src/ingest/otlp/otlp-answers.ts';
import { buildTemplate, stamp, stampedResponseId, type Template } from './payloads.ts';

export interface LoadConfig {
  url: string;
  mode: 'open' | 'closed';
  /** Open loop: offered spans per second. */
  spansPerSecond?: number;
  /** Closed loop: requests in flight. */
  concurrency?: number;
  durationMs: number;
  spansPerRequest: number;
  /** Distinct templates cycled through (different trace shapes and services). */
  templates: number;
  /** Open loop: requests in flight at most; a request due beyond it is counted as not sent. */
  maxInFlight?: number;
  apiKey?: string;
  /** Acknowledged response ids to report, for lookups afterwards. */
  sampleResponses?: number;
  timeoutMs?: number;
}

export interface SecondStats {
  /** Seconds since the start. */
  t: number;
  sentSpans: number;
  ackedSpans: number;
  p50Ms: number;
  p99Ms: number;
}

export interface LoadResult {
  config: LoadConfig;
  runId: string;
  /** Wall-clock time of the first request, ms since the epoch. */
  startedAtMs: number;
  elapsedMs: number;
  sentRequests: number;
  sentSpans: number;
  ackedRequests: number;
  ackedSpans: number;
  /** Open loop: requests that were due while maxInFlight were outstanding (the generator could not offer them). */
  notSent: number;
  /** Requests sent again after the server closed an idle keep-alive connection as they were sent on it. */
  retried: number;
  /** Answers other than a plain 200, by status ("partial" for 200 with rejected spans, "error" for transport failures). */
  refused: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  perSecond: SecondStats[];
  /** [request number, spans] of every acknowledged request. */
  acked: Array<[number, number]>;
  /** Model calls (response ids) in the acknowledged requests. */
  ackedResponses: number;
  sampleResponseIds: string[];
  /** CPU the generator itself used, ms. */
  cpuMs: number;
}

const pct = (sorted: number[], p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);

export async function runLoad(cfg: LoadConfig, onSecond?: (s: SecondStats) => void): Promise<LoadResult> {
  const templates: Template[] = [];
  for (let i = 0; i < cfg.templates; i++) templates.push(buildTemplate(1000 + i, cfg.spansPerRequest));
  const run = randomBytes(8);
  const url = new URL('/v1/traces', cfg.url);
  // Idle sockets are closed before the server's keep-alive timeout (5 s) closes them.
  const agent = new Agent({ keepAlive: true, maxSockets: Math.max(cfg.concurrency ?? 1, cfg.maxInFlight ?? 64), timeout: 4_000 });
  const headers: Record<string, string> = { 'content-type': 'application/x-protobuf' };
  if (cfg.apiKey) headers.authorization = `Bearer ${cfg.apiKey}`;
  const timeoutMs = cfg.timeoutMs ?? 60_000;

  const refused: Record<string, number> = {};
  const latencies: number[] = [];
  const acked: Array<[number, number]> = [];
  const responses: string[] = [];
  const seconds: Array<{ sent: number; acked: number; lat: number[] }> = [];
  const bucket = (ms: number) => (seconds[Math.floor(ms / 1000)] ??= { sent: 0, acked: 0, lat: [] });
  let sentRequests = 0;
  let sentSpans = 0;
  let ackedSpans = 0;
  let notSent = 0;
  let retried = 0;
  let inFlight = 0;
  let seq = 0;
  let reported = 0;

  let ackedResponses = 0;
  const responsesOf = templates.map((t) => t.responsesPerTrace.reduce((a, b) => a + b, 0));
  const cpu0 = process.cpuUsage();
  const startedAtMs = Date.now();
  const t0 = performance.now();
  const report = (force = false) => {
    const done = Math.floor((performance.now() - t0) / 1000);
    while (reported < (force ? seconds.length : Math.min(done, seconds.length))) {
      const s = seconds[reported] ?? { sent: 0, acked: 0, lat: [] };
      const lat = [...s.lat].sort((a, b) => a - b);
      onSecond?.({ t: reported, sentSpans: s.sent, ackedSpans: s.acked, p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99) });
      reported++;
    }
  };

  /** Sends request `n`, due at `dueAt` (ms since t0); resolves when it is answered. */
  const send = (n: number, dueAt: number): Promise<void> => {
    const t = templates[n % templates.length]!;
    const body = stamp(t, run, n);
    sentRequests++;
    sentSpans += t.spans;
    bucket(dueAt).sent += t.spans;
    inFlight++;
    return new Promise<void>((resolve) => {
      const finish = (status: string) => {
        if (settled) return;
        settled = true;
        inFlight--;
        const now = performance.now() - t0;
        const ms = now - dueAt;
        if (status === 'ok') {
          latencies.push(ms);
          acked.push([n, t.spans]);
          ackedSpans += t.spans;
          ackedResponses += responsesOf[n % templates.length]!;
          const b = bucket(now);
          b.acked += t.spans;
          b.lat.push(ms);
          if (responses.length < (cfg.sampleResponses ?? 0) && t.responsesPerTrace.length > 0 && n % 7 === 0) {
            const tr = n % t.traces;
            if (t.responsesPerTrace[tr]! > 0) responses.push(stampedResponseId(run, n, tr, 0));
          }
        } else refused[status] = (refused[status] ?? 0) + 1;
        resolve();
      };
      let settled = false;
      const attempt = (retry: boolean) => {
        const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) }, timeout: timeoutMs }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 200) return finish(String(res.statusCode));
            const raw = Buffer.concat(chunks);
            if (raw.length > 0) {
              try {
                if (decodeProtobufExportResponse(raw).rejectedSpans > 0) return finish('partial');
              } catch {
                return finish('bad-answer');
              }
            }
            finish('ok');
          });
          res.on('error', () => finish('error'));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (err: NodeJS.ErrnoException) => {
          // A keep-alive connection the server closed as idle just as it was reused: retried once at
          // once, as OTLP exporters retry transport errors (a replay of a request that did arrive is
          // idempotent in the store).
          if (retry && !settled && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
            retried++;
            attempt(false);
            return;
          }
          finish(err.code ? `error ${err.code}` : `error ${err.message}`);
        });
        req.end(body);
      };
      attempt(true);
    });
  };

  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.then(() => pending.delete(p));
  };
  const ticker = setInterval(() => report(), 250);

  if (cfg.mode === 'closed') {
    const workers = Array.from({ length: cfg.concurrency ?? 4 }, async () => {
      while (performance.now() - t0 < cfg.durationMs) {
        const now = performance.now() - t0;
        await send(++seq, now);
      }
    });
    await Promise.all(workers);
  } else {
    const rate = cfg.spansPerSecond ?? 10_000;
    const maxInFlight = cfg.maxInFlight ?? 64;
    // Request k is due at k × (spans per request / rate); templates differ slightly in size, so
    // the schedule follows the spans actually offered.
    let offered = 0;
    while (performance.now() - t0 < cfg.durationMs) {
      const now = performance.now() - t0;
      while ((offered / rate) * 1000 <= now && (offered / rate) * 1000 < cfg.durationMs) {
        const dueAt = (offered / rate) * 1000;
        const n = ++seq;
        offered += templates[n % templates.length]!.spans;
        if (inFlight >= maxInFlight) {
          notSent++;
          continue;
        }
        track(send(n, dueAt));
      }
      const next = (offered / rate) * 1000 - (performance.now() - t0);
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(next, 20))));
    }
  }
  await Promise.all(pending);
  clearInterval(ticker);
  report(true);
  agent.destroy();
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const perSecond = seconds.map((s, t) => {
    const lat = [...(s?.lat ?? [])].sort((a, b) => a - b);
    return { t, sentSpans: s?.sent ?? 0, ackedSpans: s?.acked ?? 0, p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99) };
  });
  return {
    config: cfg,
    runId: run.toString('hex'),
    startedAtMs,
    elapsedMs,
    sentRequests,
    sentSpans,
    ackedRequests: acked.length,
    ackedSpans,
    notSent,
    retried,
    refused,
    latencyMs: {
      p50: pct(latencies, 0.5),
      p90: pct(latencies, 0.9),
      p99: pct(latencies, 0.99),
      max: latencies.at(-1) ?? 0,
      mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0,
    },
    perSecond,
    acked,
    ackedResponses,
    sampleResponseIds: responses,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

// Forked: run the configuration given as the first argument and send the result to the parent.
if (process.send && process.argv[2]) {
  const cfg = JSON.parse(process.argv[2]) as LoadConfig;
  const result = await runLoad(cfg, (s) => process.send!({ type: 'second', second: s }));
  process.send({ type: 'result', result }, () => process.exit(0));
}
