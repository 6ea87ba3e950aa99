import { entity, type EdgeObservation } from '../domain/graph.ts';
import { hashTemplate, type AliasMove, type AliasState, type AliasTarget, type MoveGovernance, type PromptTemplate, type PromptVersion, type RegisteredPromptVersion, type Split } from '../domain/prompt.ts';
import { normalizeOrigin } from '../domain/origin.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { NO_EVENTS, type EventPublisher } from '../domain/events.ts';
import type { AuditService } from '../governance/audit.ts';
import { moveEntry, versionEntry } from '../governance/audit-content.ts';
import type { LineageGraph } from '../storage/lineage-graph.ts';
import type { Registry } from '../storage/registry.ts';
import { diffVersions, type VersionDiff } from './diff.ts';
import { originEdges } from './origin.ts';
import { renderTemplate } from './render.ts';
import { assignArm, splitId } from './split.ts';
import { parsePromptUri, type PromptRef } from './uri.ts';

// The registry's behaviour above the storage port: hashing, alias targets that must exist, splits,
// rollbacks, URIs, rendering, diffs — and the lineage graph entities each change creates, so that
// an impact query can start from a version or an alias move. Each change is stored with its audit
// entry in one transaction (the registry is handed the entry to write with it).

export interface RegisterInput {
  name: string;
  template: string | { messages: Array<{ role: 'system' | 'developer' | 'user' | 'assistant' | 'tool'; content: string }> };
  commitMessage: string;
  tags: string[];
  baseVersion?: number | undefined;
  origin?: OriginInput | undefined;
}

export interface MoveInput {
  name: string;
  alias: string;
  version?: number | undefined;
  split?: Array<{ version: number; weight: number }> | undefined;
  reason: string;
  expectSeq?: number | undefined;
  /** The proposal this move merges, an admin's override (src/registry/proposals.ts). */
  governance?: MoveGovernance | undefined;
}

/** An origin as the API takes it (src/registry/names.ts versionOriginInput). */
export type OriginInput = Parameters<typeof normalizeOrigin>[0];

/** A prompt resolved for a caller: the version, and how it was chosen. */
export interface Resolution {
  version: PromptVersion;
  alias: string | null;
  /** Set when the alias splits traffic: which split, and the arm the caller's key fell in. */
  assignment: { splitId: string; version: number; key: string } | null;
  /** The alias move in force, when resolved through an alias. */
  aliasSeq: number | null;
}

/** Registered, seen with another template, or not registered at all. */
export type RegistrationStatus = 'registered' | 'template_mismatch' | 'unregistered';

export class RegistryService {
  private readonly registry: Registry;
  private readonly graph: LineageGraph;
  private readonly log: Logger;

  private readonly audit: AuditService | undefined;
  /** Told of every alias move once it is stored (`alias.moved`, for webhooks). */
  private readonly events: EventPublisher;

  constructor(deps: { registry: Registry; graph: LineageGraph; logger: Logger; audit?: AuditService; events?: EventPublisher }) {
    this.registry = deps.registry;
    this.graph = deps.graph;
    this.log = deps.logger;
    this.audit = deps.audit;
    this.events = deps.events ?? NO_EVENTS;
  }

  async register(projectId: string, actor: string, input: RegisterInput): Promise<PromptVersion> {
    const template: PromptTemplate = typeof input.template === 'string' ? { type: 'text', text: input.template } : { type: 'chat', messages: input.template.messages };
    if (input.baseVersion !== undefined && !(await this.registry.getVersion(projectId, input.name, input.baseVersion))) {
      throw new NotFoundError(`prompt ${input.name} has no version ${input.baseVersion} to derive from`);
    }
    const v = await this.registry.registerVersion(projectId, {
      name: input.name,
      template,
      templateHash: hashTemplate(template),
      commitMessage: input.commitMessage.trim(),
      author: actor,
      tags: [...new Set(input.tags)],
      baseVersion: input.baseVersion ?? null,
      origin: normalizeOrigin(input.origin),
    }, this.audit?.draft((stored: PromptVersion) => versionEntry(projectId, stored)));
    const at = v.createdAt.getTime();
    const pv = entity('PromptVersion', v.name, String(v.version));
    const edges: EdgeObservation[] = [
      { from: entity('Prompt', v.name), rel: 'HAS_VERSION', to: pv, firstSeenMs: at, lastSeenMs: at },
      { from: entity('Actor', actor), rel: 'MADE', to: pv, firstSeenMs: at, lastSeenMs: at },
    ];
    if (v.baseVersion !== null) edges.push({ from: pv, rel: 'DERIVED_FROM', to: entity('PromptVersion', v.name, String(v.baseVersion)), firstSeenMs: at, lastSeenMs: at });
    edges.push(...originEdges(pv, v.origin, at));
    await this.recordEdges(projectId, edges);
    return v;
  }

  async getVersion(projectId: string, name: string, version: number | 'latest'): Promise<PromptVersion> {
    const v = version === 'latest' ? await this.registry.latestVersion(projectId, name) : await this.registry.getVersion(projectId, name, version);
    if (!v) throw new NotFoundError(version === 'latest' ? `prompt ${name} has no versions` : `prompt ${name} has no version ${version}`);
    return v;
  }

  listVersions(projectId: string, name: string, page: { limit: number; offset: number }) {
    return this.registry.listVersions(projectId, name, page);
  }

  listPrompts(projectId: string, page: { limit: number; offset: number }) {
    return this.registry.listPrompts(projectId, page);
  }

  async moveAlias(projectId: string, actor: string, input: MoveInput): Promise<AliasMove> {
    await this.getVersion(projectId, input.name, 'latest'); // the prompt exists
    const wanted = input.split ? input.split.map((a) => a.version) : [input.version!];
    for (const v of wanted) await this.getVersion(projectId, input.name, v);
    const current = await this.registry.getAlias(projectId, input.name, input.alias);
    const seq = current?.since.seq ?? 0;
    if (input.expectSeq !== undefined && input.expectSeq !== seq) {
      throw new ConflictError(`alias ${input.alias} of ${input.name} is at move ${seq}, not ${input.expectSeq}: it moved meanwhile`);
    }
    const to: AliasTarget = input.split
      ? { version: null, split: { id: splitId(input.name, input.alias, seq + 1, input.split), arms: input.split.map((a) => ({ version: a.version, weight: a.weight })) } }
      : { version: input.version!, split: null };
    const previous = current?.since.from ?? null;
    const rollback = previous !== null && sameTarget(previous, to);
    const move = await this.registry.moveAlias(projectId, { name: input.name, alias: input.alias, to, actor, reason: input.reason.trim(), rollback, expectSeq: seq, governance: input.governance ?? null }, this.moveDraft(projectId));
    this.publishMove(projectId, move);
    await this.recordMove(projectId, move);
    return move;
  }

  /** Moves the alias back to where it pointed before its last move, recorded as a move of its own. */
  async rollback(projectId: string, actor: string, name: string, alias: string, reason: string): Promise<AliasMove> {
    const current = await this.registry.getAlias(projectId, name, alias);
    if (!current) throw new NotFoundError(`prompt ${name} has no alias ${alias}`);
    const back = current.since.from;
    if (!back) throw new ConflictError(`alias ${alias} of ${name} has moved only once: there is nothing to roll back to`);
    const move = await this.registry.moveAlias(projectId, { name, alias, to: back, actor, reason: reason.trim(), rollback: true, expectSeq: current.since.seq }, this.moveDraft(projectId));
    this.publishMove(projectId, move);
    await this.recordMove(projectId, move);
    return move;
  }

  async getAlias(projectId: string, name: string, alias: string, at?: Date): Promise<AliasState> {
    if (alias === 'latest') {
      const v = await this.getVersion(projectId, name, 'latest');
      const since: AliasMove = { name, alias, seq: 0, at: v.createdAt, actor: v.author, reason: 'the newest version', from: null, to: { version: v.version, split: null }, rollback: false };
      return { name, alias, target: since.to, since };
    }
    const state = await this.registry.getAlias(projectId, name, alias, at);
    if (!state) {
      throw new NotFoundError(at ? `alias ${alias} of prompt ${name} did not exist at ${at.toISOString()}` : `prompt ${name} has no alias ${alias}`);
    }
    return state;
  }

  async aliasHistory(projectId: string, name: string, alias: string): Promise<AliasMove[]> {
    const history = await this.registry.aliasHistory(projectId, name, alias);
    if (history.length === 0) throw new NotFoundError(`prompt ${name} has no alias ${alias}`);
    return history;
  }

  listAliases(projectId: string, name: string) {
    return this.registry.listAliases(projectId, name);
  }

  /** A version by number, alias (at a time, for a caller's key when the alias splits) or URI. */
  async resolve(projectId: string, ref: PromptRef | string, opts: { at?: Date | undefined; key?: string | undefined } = {}): Promise<Resolution> {
    const r = typeof ref === 'string' ? parsePromptUri(ref) : ref;
    if (r.version !== undefined) return { version: await this.getVersion(projectId, r.name, r.version), alias: null, assignment: null, aliasSeq: null };
    const state = await this.getAlias(projectId, r.name, r.alias, opts.at);
    if (state.target.split) {
      if (!opts.key) {
        throw new BadRequestError(`alias ${r.alias} of ${r.name} splits traffic over versions ${state.target.split.arms.map((a) => a.version).join(', ')}: give a key (a user or session id) to be assigned one`);
      }
      const arm = assignArm(state.target.split, opts.key);
      return {
        version: await this.getVersion(projectId, r.name, arm.version),
        alias: r.alias,
        assignment: { splitId: state.target.split.id, version: arm.version, key: opts.key },
        aliasSeq: state.since.seq || null,
      };
    }
    return { version: await this.getVersion(projectId, r.name, state.target.version), alias: r.alias, assignment: null, aliasSeq: state.since.seq || null };
  }

  async render(projectId: string, name: string, version: number | 'latest', variables: ReadonlyMap<string, string>) {
    const v = await this.getVersion(projectId, name, version);
    return { version: v, rendered: renderTemplate(v.template, variables) };
  }

  async diff(projectId: string, name: string, from: number, to: number): Promise<VersionDiff> {
    return diffVersions(await this.getVersion(projectId, name, from), await this.getVersion(projectId, name, to));
  }

  /** For provenance: whether a seen prompt is a registered version, since when, and its commit message and author. */
  async lookup(projectId: string, seen: { name: string; version: string; templateHash: string }): Promise<RegisteredPromptVersion | null> {
    const found = await this.registrationStatus(projectId, seen);
    if (found.version === null || found.status === 'unregistered') return null;
    return { commitMessage: found.version.commitMessage, author: found.version.author, status: found.status, createdAt: found.version.createdAt };
  }

  /**
   * A seen prompt is registered when its name and version are, and (when it carries a template
   * hash) the registered template has that hash; with a hash and no version, when some version of
   * that name has it. A different hash means the app sent another template than the registered
   * one (a local fallback, an edit that was never registered).
   */
  async registrationStatus(projectId: string, seen: { name: string; version: string; templateHash: string }): Promise<{ status: RegistrationStatus; version: PromptVersion | null }> {
    const n = /^\d{1,9}$/.test(seen.version) ? Number(seen.version) : null;
    if (n !== null && seen.name) {
      const v = await this.registry.getVersion(projectId, seen.name, n);
      if (!v) return { status: 'unregistered', version: null };
      if (seen.templateHash && seen.templateHash !== v.templateHash) return { status: 'template_mismatch', version: v };
      return { status: 'registered', version: v };
    }
    if (seen.templateHash) {
      const byHash = (await this.registry.findByTemplateHash(projectId, seen.templateHash)).filter((v) => !seen.name || v.name === seen.name);
      if (byHash.length > 0) return { status: 'registered', version: byHash.at(-1)! };
    }
    return { status: 'unregistered', version: null };
  }

  private moveDraft(projectId: string) {
    return this.audit?.draft((stored: AliasMove) => moveEntry(projectId, stored));
  }

  /** The move is committed: receivers are told (publish never waits for them, nor fails the move). */
  private publishMove(projectId: string, move: AliasMove): void {
    this.events.publish({
      type: 'alias.moved',
      project: projectId,
      at: move.at,
      subject: `prompt:${move.name}@${move.alias}`,
      data: { prompt: move.name, alias: move.alias, seq: move.seq, from: move.from, to: move.to, actor: move.actor, reason: move.reason, rollback: move.rollback },
    });
  }

  private async recordMove(projectId: string, move: AliasMove): Promise<void> {
    const at = move.at.getTime();
    const alias = entity('Alias', move.name, move.alias);
    const record = entity('AliasMove', move.name, move.alias, String(move.seq));
    const versionsOf = (t: AliasTarget | null) => (t === null ? [] : t.split ? t.split.arms.map((a) => a.version) : [t.version]);
    const edges: EdgeObservation[] = [
      { from: record, rel: 'MOVED', to: alias, firstSeenMs: at, lastSeenMs: at },
      { from: entity('Actor', move.actor), rel: 'MADE', to: record, firstSeenMs: at, lastSeenMs: at },
    ];
    for (const v of versionsOf(move.to)) {
      const pv = entity('PromptVersion', move.name, String(v));
      edges.push({ from: record, rel: 'MOVED_TO', to: pv, firstSeenMs: at, lastSeenMs: at });
      edges.push({ from: alias, rel: 'POINTS_TO', to: pv, firstSeenMs: at, lastSeenMs: at });
    }
    for (const v of versionsOf(move.from)) edges.push({ from: record, rel: 'MOVED_FROM', to: entity('PromptVersion', move.name, String(v)), firstSeenMs: at, lastSeenMs: at });
    await this.recordEdges(projectId, edges);
  }

  /**
   * The registry is the record; the graph edges are derived from it. A graph that is down must not
   * refuse a registration that is already stored: it is logged, and the edges are written again
   * the next time that version or alias changes or is seen.
   */
  private async recordEdges(projectId: string, edges: EdgeObservation[]): Promise<void> {
    try {
      await this.graph.recordEdges(projectId, edges);
    } catch (err) {
      this.log.warn('registry: lineage graph edges not recorded', { error: err as Error, edges: edges.length });
    }
  }
}

function sameTarget(a: AliasTarget, b: AliasTarget): boolean {
  if (a.split === null || b.split === null) return a.split === b.split && a.version === b.version;
  return sameArms(a.split, b.split);
}

function sameArms(a: Split, b: Split): boolean {
  return a.arms.length === b.arms.length && a.arms.every((x, i) => x.version === b.arms[i]!.version && x.weight === b.arms[i]!.weight);
}
