import { randomUUID } from 'node:crypto';
import neo4j, { type Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, StoredApiKey } from '../../src/domain/governance.ts';
import { auditHash } from '../../src/governance/audit.ts';
import { generateKey, hashKey, verifyKey } from '../../src/governance/keys.ts';
import { Neo4jGovernance } from '../../src/storage/neo4j/neo4j-governance.ts';
import { Neo4jWebhooks } from '../../src/storage/neo4j/neo4j-webhooks.ts';
import { describeGovernanceContract } from '../contract/governance.contract.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';

// Keys and the audit log on a real Neo4j server: the one `npm test` starts (test/global-setup.ts),
// or the one NEO4J_URL names (npm run services:up). The audit log there is one chain for the whole
// database, shared with other test runs: the tampering tests check only the range of their own
// entries (with the rules of verifyChain), and put back what they changed, so the chain stays whole
// for everyone else.
const neo = neo4jFromEnv();

/** verifyChain's three rules over seqs first..last; the first entry's prevHash is taken as given. */
async function checkRange(g: Neo4jGovernance, first: number, last: number): Promise<{ ok: boolean; problem: string | null }> {
  const entries: AuditEntry[] = [];
  for (let from = first; from <= last; ) {
    const page = (await g.scan(from, 1000)).filter((e) => e.seq <= last);
    if (page.length === 0) break;
    entries.push(...page);
    from = page.at(-1)!.seq + 1;
  }
  let expectedSeq = first;
  let prev: string | null = null;
  for (const e of entries) {
    if (e.seq !== expectedSeq) return { ok: false, problem: e.seq > expectedSeq ? `entry ${expectedSeq} is missing (the next entry is ${e.seq})` : `entry ${e.seq} is out of order` };
    if (prev !== null && e.prevHash !== prev) return { ok: false, problem: `entry ${e.seq} does not follow entry ${e.seq - 1}` };
    if (auditHash(e) !== e.hash) return { ok: false, problem: `entry ${e.seq} was changed after it was written` };
    prev = e.hash;
    expectedSeq++;
  }
  if (expectedSeq !== last + 1) return { ok: false, problem: `entry ${expectedSeq} is missing (the range ends early)` };
  return { ok: true, problem: null };
}

if (neo.settings) {
  const settings = neo.settings;

  describeGovernanceContract(`Neo4j (${settings.url})`, async (clock) => {
    const chain = `test-${randomUUID()}`;
    const g = await Neo4jGovernance.connect({ ...settings, chain, clock });
    const webhooks = await Neo4jWebhooks.connect({ ...settings, chain, clock });
    return { keys: g, audit: g, retention: g, webhooks, cleanup: async () => (await webhooks.close(), await g.close()) };
  });

  describe('the Neo4j audit log and key nodes themselves', () => {
    let g: Neo4jGovernance;
    let driver: Driver;
    const project = `tamper-${randomUUID()}`;
    // An audit chain of this test's own: tampering with it cannot touch another run's.
    const chain = `test-${randomUUID()}`;
    const cypher = async (query: string, params: Record<string, unknown> = {}) => (await driver.executeQuery(query, { chain, ...params })).records;

    beforeAll(async () => {
      g = await Neo4jGovernance.connect({ ...settings, chain });
      await g.migrate();
      driver = neo4j.driver(settings.url, neo4j.auth.basic(settings.user, settings.password), { disableLosslessIntegers: true });
    });
    afterAll(async () => {
      await g?.close();
      await driver?.close();
    });

    /**
     * Five entries of this project with consecutive seqs. Another run appending at the same time
     * may take seqs in between; then five more are appended, so that the range checked holds only
     * entries of this test (whatever another run does to its own entries stays out of it).
     */
    async function appendFive(): Promise<number[]> {
      for (let attempt = 0; attempt < 10; attempt++) {
        const seqs: number[] = [];
        for (let i = 1; i <= 5; i++) {
          const e = await g.append({ project, actor: 'alice', action: 'alias.move', target: 'prompt:x@production', before: { version: i - 1 }, after: { version: i } }, auditHash);
          seqs.push(e.seq);
        }
        if (seqs.every((s, i) => s === seqs[0]! + i)) return seqs;
      }
      throw new Error('could not append five consecutive audit entries: others keep appending to the log');
    }

    it('catches an edited, a deleted and a reordered entry, and passes before and after each', async () => {
      const seqs = await appendFive();
      const [first, , s2, s3, last] = seqs as [number, number, number, number, number];
      const s1 = seqs[1]!;
      expect(await checkRange(g, first, last)).toEqual({ ok: true, problem: null });

      // Edited: the after of one entry.
      const [orig] = await cypher('MATCH (r:AuditRecord {chain: $chain, seq: $seq}) RETURN r.after AS after', { seq: neo4j.int(s2) });
      expect(orig!.get('after')).toBe('{"version":3}');
      await cypher('MATCH (r:AuditRecord {chain: $chain, seq: $seq}) SET r.after = $after', { seq: neo4j.int(s2), after: '{"version":99}' });
      try {
        const r = await checkRange(g, first, last);
        expect(r.ok, 'edited').toBe(false);
        expect(r.problem, 'edited').toMatch(new RegExp(`entry ${s2} was changed`));
      } finally {
        await cypher('MATCH (r:AuditRecord {chain: $chain, seq: $seq}) SET r.after = $after', { seq: neo4j.int(s2), after: orig!.get('after') as string });
      }
      expect(await checkRange(g, first, last)).toEqual({ ok: true, problem: null });

      // Deleted: one entry in the middle.
      const [saved] = await cypher('MATCH (r:AuditRecord {chain: $chain, seq: $seq}) RETURN properties(r) AS p', { seq: neo4j.int(s2) });
      const props = saved!.get('p') as Record<string, unknown>;
      await cypher('MATCH (r:AuditRecord {chain: $chain, seq: $seq}) DELETE r', { seq: neo4j.int(s2) });
      try {
        const r = await checkRange(g, first, last);
        expect(r.ok, 'deleted').toBe(false);
        expect(r.problem, 'deleted').toMatch(new RegExp(`entry ${s2} is missing`));
      } finally {
        await cypher('CREATE (r:AuditRecord) SET r = $props, r.seq = $seq, r.at = $at', { props, seq: neo4j.int(s2), at: neo4j.int(props.at as number) });
      }
      expect(await checkRange(g, first, last)).toEqual({ ok: true, problem: null });

      // Reordered: the seqs of two entries swapped.
      // In one transaction, through a seq no entry has (the constraint is checked per statement).
      const swap = async (a: number, b: number) => {
        const session = driver.session();
        try {
          await session.executeWrite(async (tx) => {
            const tmp = neo4j.int(-1 - Math.floor(Math.random() * 1e9));
            await tx.run('MATCH (r:AuditRecord {chain: $chain, seq: $from}) SET r.seq = $to', { chain, from: neo4j.int(a), to: tmp });
            await tx.run('MATCH (r:AuditRecord {chain: $chain, seq: $from}) SET r.seq = $to', { chain, from: neo4j.int(b), to: neo4j.int(a) });
            await tx.run('MATCH (r:AuditRecord {chain: $chain, seq: $from}) SET r.seq = $to', { chain, from: tmp, to: neo4j.int(b) });
          });
        } finally {
          await session.close();
        }
      };
      await swap(s1, s3);
      try {
        const r = await checkRange(g, first, last);
        expect(r.ok, 'reordered').toBe(false);
        expect(r.problem, 'reordered').toMatch(new RegExp(`entry ${s1} does not follow|entry ${s1} was changed`));
      } finally {
        await swap(s1, s3);
      }
      expect(await checkRange(g, first, last)).toEqual({ ok: true, problem: null });
    });

    it('stores only the fields of a stored key, the secret only as its hash', async () => {
      const { id, key } = generateKey();
      const stored: StoredApiKey = {
        id,
        name: 'ci ingest',
        role: 'ingest',
        promote: false,
        project,
        instanceAdmin: false,
        secretHash: await hashKey(key),
        createdAt: new Date(1_700_000_000_000),
        createdBy: 'admin [key 0]',
        expiresAt: new Date(1_900_000_000_000),
        revokedAt: null,
        revokedBy: null,
      };
      await g.createKey(stored);
      expect(await g.getKey(id)).toEqual(stored);
      expect(await verifyKey(key, (await g.getKey(id))!.secretHash)).toBe(true);
      expect(await g.revokeKey(id, new Date(1_800_000_000_000), 'admin')).toBe(true);

      const rows = await cypher('MATCH (k:ApiKeyRecord {id: $id}) RETURN properties(k) AS p, labels(k) AS l', { id });
      expect(rows).toHaveLength(1);
      const props = rows[0]!.get('p') as Record<string, unknown>;
      expect(rows[0]!.get('l')).toEqual(['ApiKeyRecord']);
      const allowed = ['id', 'name', 'role', 'promote', 'project', 'instanceAdmin', 'secretHash', 'createdAt', 'createdBy', 'expiresAt', 'revokedAt', 'revokedBy'];
      expect(Object.keys(props).sort()).toEqual(allowed.slice().sort());
      const secret = key.slice(`pl_${id}_`.length);
      for (const [name, value] of Object.entries(props)) {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        expect(text.includes(key), name).toBe(false);
        expect(text.includes(secret), name).toBe(false);
      }
    });
  });
} else {
  console.log(`keys and audit log on Neo4j: skipped: ${neo.skipReason}`);
  describe('keys and audit log contract: Neo4j', () => {
    it.skip(`skipped: ${neo.skipReason}`, () => {});
  });
}
