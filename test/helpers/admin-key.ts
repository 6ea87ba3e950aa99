import { randomBytes } from 'node:crypto';
import { removeDir, startServer, type ServerUnderTest } from './server.ts';

// Servers under test that share the run's Neo4j share its keys, and PROMPTLINE_API_KEY is the
// installation's one bootstrap key: a server started with another value rotates it, revoking the
// one before. So a test that runs beside others does not lean on its bootstrap key: it makes an
// instance admin key of its own at once, which no rotation revokes, and uses that. A start whose
// bootstrap key another start rotated away before it could be used is tried again.

export interface ServerWithAdmin {
  server: ServerUnderTest;
  /** The bootstrap key the server was started with (PROMPTLINE_API_KEY). */
  bootstrap: string;
  /** An instance admin key of project default, of this test's own. */
  admin: string;
  adminId: string;
}

export const TEST_ADMIN_NAME = 'test instance admin';

export async function startServerWithAdmin(opts: { env?: Record<string, string>; attempts?: number } = {}): Promise<ServerWithAdmin> {
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    const bootstrap = `admin-${randomBytes(12).toString('hex')}`;
    const server = await startServer({ auth: true, env: { ...opts.env, PROMPTLINE_API_KEY: bootstrap } });
    const res = await fetch(`${server.url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'admin', instanceAdmin: true, promote: true, name: TEST_ADMIN_NAME }),
    });
    if (res.status === 201) {
      const k = (await res.json()) as { id: string; key: string };
      return { server, bootstrap, admin: k.key, adminId: k.id };
    }
    const text = await res.text();
    await server.stop();
    removeDir(server.dataDir);
    if (res.status !== 401 || attempt >= attempts) throw new Error(`could not make a test admin key: ${res.status} ${text}\n${server.output()}`);
  }
}
