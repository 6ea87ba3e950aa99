import type { ResolvedBatch } from '../lineage-resolver.ts';

// Each stored span records whether its prompt was a registered version when it arrived, so that
// provenance and reports say what held at the time, and searches can filter on it in the store.

/** Says whether a seen prompt is a registered version: registered, template_mismatch or unregistered. */
export type ClassifyPrompt = (projectId: string, prompt: { name: string; version: string; templateHash: string }) => Promise<string>;

const CACHE_MS = 30_000;
const CACHE_MAX = 10_000;

export class RegistrationMarker {
  private readonly classify: ClassifyPrompt;
  /** Registrations are rare and a batch repeats a few prompts thousands of times: answers are kept briefly. */
  private readonly cache = new Map<string, { status: string; until: number }>();

  constructor(classify: ClassifyPrompt) {
    this.classify = classify;
  }

  /** Sets the registration of every span and fixup of the batch that carries a prompt. */
  async mark(projectId: string, resolved: ResolvedBatch): Promise<void> {
    const now = Date.now();
    for (const s of resolved.spans) if (s.resolved.prompt) s.registration = await this.statusOf(projectId, s.resolved.prompt, now);
    for (const f of resolved.fixups) if (f.resolved.prompt) f.registration = await this.statusOf(projectId, f.resolved.prompt, now);
  }

  private async statusOf(projectId: string, p: { name: string; version: string; templateHash: string }, now: number): Promise<string> {
    const key = JSON.stringify([projectId, p.name, p.version, p.templateHash]);
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.status;
    const status = await this.classify(projectId, p);
    if (this.cache.size > CACHE_MAX) this.cache.clear();
    this.cache.set(key, { status, until: now + CACHE_MS });
    return status;
  }
}
