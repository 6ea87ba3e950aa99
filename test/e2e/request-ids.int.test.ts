import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerWithAdmin, type ServerWithAdmin } from '../helpers/admin-key.ts';
import { removeDir } from '../helpers/server.ts';

// An operator who gets a user's error answer finds the request in the log by the id in it: every
// answer has X-Request-Id, every error answer names it, and the log's lines for the request carry it.

let s: ServerWithAdmin;

beforeAll(async () => {
  s = await startServerWithAdmin({ env: { PROMPTLINE_LOG_LEVEL: 'debug' } });
}, 120_000);

afterAll(async () => {
  await s?.server.stop();
  if (s) removeDir(s.server.dataDir);
});

interface LogLine {
  level: string;
  msg: string;
  reqId?: string;
  route?: string;
  status?: number;
  method?: string;
}

/** The server's log lines that name `reqId`, once the line for the answer is written. */
async function linesOf(reqId: string): Promise<LogLine[]> {
  for (let i = 0; i < 200; i++) {
    const lines = s.server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine)
      .filter((l) => l.reqId === reqId);
    if (lines.some((l) => l.msg === 'request refused' || l.msg === 'request served')) return lines;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no log line names request ${reqId}`);
}

describe('request ids', () => {
  it('a refused call answers with its request id, in the header and the error, and the log names it with the declared route', async () => {
    const res = await fetch(`${s.server.url}/v1/audit`);
    expect(res.status).toBe(401);
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await res.json()) as { error: { requestId: string; message: string } };
    expect(body.error.requestId).toBe(id);
    const lines = await linesOf(id);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'request refused', method: 'GET', route: '/v1/audit', status: 401 }));
  });

  it("keeps a client's own request id, and a path with ids in it is logged as its route template", async () => {
    const res = await fetch(`${s.server.url}/v1/prompts/support-bot/versions/999`, { headers: { authorization: `Bearer ${s.admin}`, 'x-request-id': 'lb-1234.5' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('lb-1234.5');
    expect(((await res.json()) as { error: { requestId: string } }).error.requestId).toBe('lb-1234.5');
    const lines = await linesOf('lb-1234.5');
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'request refused', route: '/v1/prompts/{name}/versions/{version}', status: 404 }));
    expect(lines.map((l) => JSON.stringify(l)).join('\n')).not.toContain('support-bot');
  });

  it('a malformed body and an unknown path answer with request ids too; a served call is logged at debug; no line holds a key', async () => {
    const bad = await fetch(`${s.server.url}/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${s.admin}`, 'content-type': 'application/json' }, body: '{"role":' });
    expect(bad.status).toBe(400);
    const badId = ((await bad.json()) as { error: { requestId: string } }).error.requestId;
    expect(badId).toBe(bad.headers.get('x-request-id'));
    expect(await linesOf(badId)).toContainEqual(expect.objectContaining({ route: '/v1/keys', status: 400 }));

    const none = await fetch(`${s.server.url}/v1/no-such-thing`, { headers: { authorization: `Bearer ${s.admin}` } });
    expect(none.status).toBe(404);
    const noneId = ((await none.json()) as { error: { requestId: string } }).error.requestId;
    expect(await linesOf(noneId)).toContainEqual(expect.objectContaining({ route: 'unmatched', status: 404 }));

    const ok = await fetch(`${s.server.url}/v1/audit`, { headers: { authorization: `Bearer ${s.admin}` } });
    expect(ok.status).toBe(200);
    expect(await linesOf(ok.headers.get('x-request-id')!)).toContainEqual(expect.objectContaining({ level: 'debug', msg: 'request served', route: '/v1/audit', status: 200 }));
    expect(s.server.output()).not.toContain(s.admin);
  });
});
