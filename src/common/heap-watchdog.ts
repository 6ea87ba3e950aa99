import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { Logger } from './logger.ts';

// A process whose heap is nearly all live data does not always die: V8 aborts when full
// collections free (almost) nothing, but while each one frees a little, the process goes on
// collecting most of the time and serving next to nothing, for as long as it is left running. The
// watchdog measures the share of the time spent in full (mark-compact) collections: when it stays
// at or above `gcShare` over `windowMs`, it logs what it saw and exits with HEAP_EXHAUSTED_EXIT_CODE,
// so that a supervisor starts a fresh process (what was acknowledged is in the spool, and replayed).
// Its timer is unref'd: it never keeps a process alive.

/** The exit code of a process the watchdog ended. */
export const HEAP_EXHAUSTED_EXIT_CODE = 70;

export interface HeapWatchdogOptions {
  /** How often the share is sampled. */
  intervalMs?: number;
  /** The span of time the share is measured over. */
  windowMs?: number;
  /** The share of wall time in full collections (0–1) at or above which the process is taken as thrashing. */
  gcShare?: number;
  /** How the process ends (a test may watch instead). */
  exit?: (code: number) => void;
  /** Called with each interval's measurement (for diagnostics). */
  onSample?: (sample: HeapWatchdogSample) => void;
}

/** One interval: its length, the time in full collections and their number, and the share over the window so far. */
export interface HeapWatchdogSample {
  ms: number;
  gcMs: number;
  fullCollections: number;
  windowMs: number;
  windowShare: number;
}

export const HEAP_WATCHDOG_DEFAULTS = Object.freeze({ intervalMs: 1_000, windowMs: 10_000, gcShare: 0.25 });

/** Starts watching; returns a function that stops it. */
export function startHeapWatchdog(logger: Logger, options: HeapWatchdogOptions = {}): () => void {
  const intervalMs = options.intervalMs ?? HEAP_WATCHDOG_DEFAULTS.intervalMs;
  const windowMs = options.windowMs ?? HEAP_WATCHDOG_DEFAULTS.windowMs;
  const gcShare = options.gcShare ?? HEAP_WATCHDOG_DEFAULTS.gcShare;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let majorMs = 0;
  let majorCount = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      // A gc entry's detail says which kind of collection it was.
      if ((e as unknown as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      majorMs += e.duration;
      majorCount++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  // One sample per interval: its length (the timer may fire late: the loop is busy) and the full collections in it.
  const samples: Array<{ ms: number; gcMs: number; gcs: number }> = [];
  let last = performance.now();
  let ended = false;
  const timer = setInterval(() => {
    const now = performance.now();
    samples.push({ ms: now - last, gcMs: majorMs, gcs: majorCount });
    last = now;
    majorMs = 0;
    majorCount = 0;
    // The newest samples that cover the window, no more.
    let total = 0;
    for (const s of samples) total += s.ms;
    while (samples.length > 1 && total - samples[0]!.ms >= windowMs) total -= samples.shift()!.ms;
    let span = 0;
    let gcMs = 0;
    let gcs = 0;
    for (const s of samples) {
      span += s.ms;
      gcMs += s.gcMs;
      gcs += s.gcs;
    }
    const newest = samples.at(-1)!;
    options.onSample?.({ ms: Math.round(newest.ms), gcMs: Math.round(newest.gcMs), fullCollections: newest.gcs, windowMs: Math.round(span), windowShare: Math.round((gcMs / span) * 100) / 100 });
    if (ended || span < windowMs || gcMs / span < gcShare) return;
    ended = true;
    const heap = getHeapStatistics();
    logger.error('heap exhausted: the process spends most of its time collecting garbage; exiting so that a fresh one can start', {
      fullCollectionShare: Math.round((gcMs / span) * 100) / 100,
      fullCollections: gcs,
      windowMs: Math.round(span),
      usedHeapBytes: heap.used_heap_size,
      heapLimitBytes: heap.heap_size_limit,
      exitCode: HEAP_EXHAUSTED_EXIT_CODE,
    });
    stop();
    exit(HEAP_EXHAUSTED_EXIT_CODE);
  }, intervalMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    observer.disconnect();
  };
  return stop;
}
