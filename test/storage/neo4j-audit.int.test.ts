import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import neo4j, { type Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService, auditHash } from '../../src/governance/audit.ts';
import { readHeadFile, type AuditHead } from '../../src/governance/audit-anchor.ts';
import { exportLine, parseExport, scanOf } from '../../src/governance/audit-export.ts';
import { verifyAudit } from '../../src/governance/audit-verify.ts';
import { RegistryService } from '../../src/registry/registry-service.ts';
import { Neo4jGovernance } from '../../src/storage/neo4j/neo4j-governance.ts';
import { Neo4jLineageGraph } from '../../src/storage/neo4j/neo4j-lineage-graph.ts';
import { Neo4jRegistry } from '../../src/storage/neo4j/neo4j-registry.ts';
import { Neo4jSessions } from '../../src/storage/neo4j/neo4j-sessions.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// The audit trail on a real Neo4j: changes recorded through the registry service with their
// entries, the registry held to the chain, and the three ways of hiding a change from an auditor
// who kept a head, caught through the adapter and through an export. Each test has an audit chain
// and a project of its own, so nothing here touches another run's.

const neo = neo4jFromEnv();
const silent = { debug() {}, info() {}, warn() {}, error() {} };

if (neo.settings) {
  const settings = neo.settings;

  describe('the audit trail on Neo4j', () => {
    let sessions: Neo4jSessions;
    let driver: Driver;
    beforeAll(async () => {
      sessions = await Neo4jSessions.connect(settings);
      driver = neo4j.driver(settings.url, neo4j.auth.basic(settings.user, settings.password), { disableLosslessIntegers: true });
    });
    afterAll(async () => {
      await sessions?.close();
      await driver?.close();
    });

    /** A chain of its own with two versions, two moves and a key, and the head an auditor kept of it. */
    async function withTrail() {
      const chain = `test-${randomUUID()}`;
      const project = `audit-${randomUUID()}`;
      const dir = tempDataDir('neo4j-audit-');
      const log = new Neo4jGovernance(sessions, { chain });
      const registry = new Neo4jRegistry(sessions, { auditChain: chain });
      await log.migrate();
      await registry.migrate();
      const anchorFile = join(dir, 'audit-head.json');
      const audit = new AuditService({ log, anchorFile, history: registry, logger: silent });
      const service = new RegistryService({ registry, graph: new Neo4jLineageGraph(sessions), logger: silent, audit });
      await service.register(project, 'alice', { name: 'x', template: 'v1 {{q}}', commitMessage: 'one', tags: [] });
      await service.register(project, 'alice', { name: 'x', template: 'v2 {{q}}', commitMessage: 'two', tags: [] });
      await service.moveAlias(project, 'alice', { name: 'x', alias: 'production', version: 1, reason: 'first release' });
      await service.moveAlias(project, 'bob', { name: 'x', alias: 'production', version: 2, reason: 'better answers' });
      await audit.record({ project, actor: 'alice', action: 'evaluation.record', target: 'prompts:/x/2', before: null, after: { results: 3 } });
      const verified = await audit.verify();
      expect(verified).toMatchObject({ ok: true, entries: 5, registry: { versions: 2, moves: 2 } });
      const kept = verified.head!;
      const exported = async () => {
        const lines: string[] = [];
        for await (const e of audit.entries()) lines.push(exportLine(e));
        return lines.join('\n');
      };
      const cypher = async (query: string, params: Record<string, unknown> = {}) => (await driver.executeQuery(query, { chain, project, ...params })).records;
      return { chain, project, dir, audit, anchorFile, kept, exported, cypher, cleanup: () => removeDir(dir) };
    }

    const verifyExport = (text: string, kept: AuditHead) => verifyAudit({ scan: scanOf(parseExport(text)), kept });

    it('keeps each change and its entry, with the project numbering, and the registry matching the chain', async () => {
      const t = await withTrail();
      const entries = parseExport(await t.exported());
      expect(entries.map((e) => [e.action, e.projectSeq])).toEqual([['prompt.register', 1], ['prompt.register', 2], ['alias.move', 3], ['alias.move', 4], ['evaluation.record', 5]]);
      expect(readHeadFile(t.anchorFile)).toMatchObject({ state: 'present', head: t.kept });
      expect((await verifyExport(await t.exported(), t.kept)).ok).toBe(true);
      t.cleanup();
    });

    it('catches an alias move whose reason was edited in the database, naming it', async () => {
      const t = await withTrail();
      await t.cypher("MATCH (m:AliasMoveRecord {project: $project, name: 'x', alias: 'production', seq: 2}) SET m.reason = 'routine'");
      const r = await t.audit.verify({ kept: t.kept });
      expect(r.ok).toBe(false);
      expect(r.problem?.reason).toMatch(/alias move 2 of prompts:\/x@production in project audit-.* does not match its audit entry 4: its reason is not the one recorded/);
      t.cleanup();
    });

    it('(a) catches an entry edited and every entry after it hashed again, with the anchor rewritten', async () => {
      const t = await withTrail();
      const before = await t.exported();
      // The attacker edits the evaluation's entry (seq 5, no registry row to betray it) and re-hashes.
      const lines = parseExport(before);
      const e = lines[4]!;
      e.after = { results: 300 };
      e.hash = auditHash(e);
      await t.cypher('MATCH (r:AuditRecord {chain: $chain, seq: 5}) SET r.after = $after, r.hash = $hash', { after: JSON.stringify(e.after), hash: e.hash });
      writeFileSync(t.anchorFile, JSON.stringify({ seq: 5, hash: e.hash }));
      expect((await t.audit.verify()).ok).toBe(true);
      const r = await t.audit.verify({ kept: t.kept });
      expect(r.problem?.reason).toMatch(/entry 5 is not the entry whose hash you kept/);
      expect((await verifyExport(await t.exported(), t.kept)).problem?.reason).toMatch(/entry 5 is not the entry whose hash you kept/);
      t.cleanup();
    });

    it('(b) catches entries cut off the end with the anchor (and the chain counter) moved back', async () => {
      const t = await withTrail();
      await t.cypher('MATCH (r:AuditRecord {chain: $chain}) WHERE r.seq > 3 DETACH DELETE r');
      await t.cypher('MATCH (h:AuditHead {id: $chain}) SET h.lastSeq = 3');
      const [last] = await t.cypher('MATCH (r:AuditRecord {chain: $chain, seq: 3}) RETURN r.hash AS hash');
      writeFileSync(t.anchorFile, JSON.stringify({ seq: 3, hash: last!.get('hash') as string }));
      const r = await t.audit.verify({ kept: t.kept });
      expect(r.problem?.reason).toMatch(/the log ends at entry 3, but the head you kept is entry 5: entries were cut off the end/);
      expect(r.head?.seq).toBe(3);
      expect((await verifyExport(await t.exported(), t.kept)).problem?.reason).toMatch(/the log ends at entry 3, but the head you kept is entry 5/);
      t.cleanup();
    });

    it('(c) catches entries cut off the end with the anchor deleted', async () => {
      const t = await withTrail();
      await t.cypher('MATCH (r:AuditRecord {chain: $chain}) WHERE r.seq > 3 DETACH DELETE r');
      rmSync(t.anchorFile);
      const r = await t.audit.verify({ kept: t.kept });
      expect(r.ok).toBe(false);
      expect(r.problems.map((p) => p.reason)).toEqual(
        expect.arrayContaining([expect.stringMatching(/the head you kept is entry 5/), expect.stringMatching(/the anchor \(.*\) is missing, but the log has 3 entries/)]),
      );
      // Without the kept head, the missing anchor alone gives it away.
      expect((await t.audit.verify()).problem?.reason).toMatch(/is missing, but the log has 3 entries/);
      expect((await verifyExport(await t.exported(), t.kept)).ok).toBe(false);
      t.cleanup();
    });

    it('numbers, within their projects, entries an older Promptline appended without a number', async () => {
      const chain = `test-${randomUUID()}`;
      const log = new Neo4jGovernance(sessions, { chain });
      await log.migrate();
      for (const [i, project] of ['a', 'b', 'a'].entries()) {
        const e = await log.append({ project, actor: 'alice', action: 'key.create', target: `key:${i}`, before: null, after: null }, auditHash);
        expect(e.projectSeq).toBe(project === 'a' ? (i === 0 ? 1 : 2) : 1);
      }
      await driver.executeQuery('MATCH (r:AuditRecord {chain: $chain}) REMOVE r.projectSeq', { chain });
      expect((await log.scan(1, 10)).map((e) => e.projectSeq)).toEqual([null, null, null]);
      // An append before the next start numbers its own entry by the project's count.
      expect((await log.append({ project: 'a', actor: 'alice', action: 'key.create', target: 'key:3', before: null, after: null }, auditHash)).projectSeq).toBe(3);
      await log.migrate();
      expect((await log.scan(1, 10)).map((e) => [e.project, e.projectSeq])).toEqual([['a', 1], ['b', 1], ['a', 2], ['a', 3]]);
      expect(await verifyAudit({ scan: (from, limit) => log.scan(from, limit) })).toMatchObject({ ok: true });
    });
  });
} else {
  console.log(`audit trail on Neo4j: skipped: ${neo.skipReason}`);
  describe('the audit trail on Neo4j', () => {
    it.skip(`skipped: ${neo.skipReason}`, () => {});
  });
}
