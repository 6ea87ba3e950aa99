import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config.ts';
import { ANCHOR_FILE, readHeadFile, type AuditHead } from '../governance/audit-anchor.ts';
import { parseExport, scanOf } from '../governance/audit-export.ts';
import { verifyAudit, type VerifyResult } from '../governance/audit-verify.ts';
import { Neo4jGovernance } from '../storage/neo4j/neo4j-governance.ts';
import { Neo4jRegistry } from '../storage/neo4j/neo4j-registry.ts';
import { Neo4jSessions } from '../storage/neo4j/neo4j-sessions.ts';
import { SqliteGovernance } from '../storage/sqlite/sqlite-governance.ts';
import { openRecordsReadOnly } from '../storage/sqlite/sqlite-records.ts';
import { SqliteRegistry } from '../storage/sqlite/sqlite-registry.ts';
import { CliError } from './http.ts';

// Verification with no server: of an export file, or of a data directory's stores read directly
// (its SQLite file, opened read-only, or the Neo4j that NEO4J_URL names), with the same checks as
// the server's. Loaded only by `promptline audit verify --file | --data-dir`.

export interface OfflineInput {
  kept: AuditHead | undefined;
  /** From the environment: the anchor's secret, the head file, Neo4j. */
  config: Pick<Config, 'audit' | 'neo4j'>;
}

export async function verifyExportFile(file: string, anchorFile: string | undefined, input: OfflineInput): Promise<VerifyResult> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const entries = parseExport(text);
  return verifyAudit({
    scan: scanOf(entries),
    kept: input.kept,
    anchor: anchorFile ? { label: anchorFile, file: readHeadFile(anchorFile) } : undefined,
    secret: input.config.audit.secret,
  });
}

export async function verifyDataDir(dir: string, input: OfflineInput): Promise<VerifyResult> {
  const dataDir = resolve(dir);
  const anchorFile = join(dataDir, ANCHOR_FILE);
  const headFile = input.config.audit.headFile;
  const around = {
    kept: input.kept,
    anchor: { label: anchorFile, file: readHeadFile(anchorFile) },
    headFile: headFile ? { label: headFile, file: readHeadFile(headFile) } : undefined,
    secret: input.config.audit.secret,
  };
  if (input.config.neo4j) {
    const sessions = await Neo4jSessions.connect(input.config.neo4j);
    try {
      const log = new Neo4jGovernance(sessions);
      return await verifyAudit({ ...around, scan: (from, limit) => log.scan(from, limit), history: new Neo4jRegistry(sessions) });
    } finally {
      await sessions.close();
    }
  }
  const records = openRecordsReadOnly(dataDir);
  const log = new SqliteGovernance(records);
  const registry = new SqliteRegistry(records);
  try {
    return await verifyAudit({ ...around, scan: (from, limit) => log.scan(from, limit), history: registry });
  } finally {
    await log.close();
    await registry.close();
  }
}
