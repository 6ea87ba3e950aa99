import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { debug } from './utils.ts';

// Finding the app's LLM SDKs from this package, in the build the app uses: an app started as an
// ES module imports the ES build of a package, one started as CommonJS requires the other. The
// instrumentations patch the very module instance the app uses, so they must be given that one.

const requireHere = createRequire(import.meta.url);

/** True when the app was started as an ES module (no CommonJS main module). */
export const esmEntry = (): boolean => requireHere.main === undefined;

/**
 * The ES module build of `specifier`, when installed where this package can see it; require() of
 * an ES module returns the very instance `import` gets.
 */
export function esmBuild(specifier: string): unknown {
  try {
    return requireHere(fileURLToPath(import.meta.resolve(specifier)));
  } catch {
    debug(`${specifier} (ES module build) is not installed where this package can see it`);
    return undefined;
  }
}

/** A package this package depends on (an instrumentation), in the build asked for. */
export function loadBuild(specifier: string, build: 'esm' | 'cjs'): unknown {
  return build === 'esm' ? requireHere(fileURLToPath(import.meta.resolve(specifier))) : requireHere(specifier);
}

/** True when `specifier` resolves for require (the CommonJS build is installed). */
export function installed(specifier: string): boolean {
  try {
    requireHere.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/** The CommonJS build of `specifier` if the app loaded it already. */
export function loadedCjs(specifier: string): unknown {
  try {
    return requireHere.cache[requireHere.resolve(specifier)]?.exports;
  } catch {
    return undefined;
  }
}

/**
 * True when `fn`, or a function it wraps (shimmer's `__original`, as the instrumentations wrap),
 * carries `mark`: a hook of ours already under an instrumentation's patch is not put on top again.
 */
export function hookedWith(fn: unknown, mark: symbol): boolean {
  type Wrapped = ((...args: unknown[]) => unknown) & { __original?: unknown; [k: symbol]: unknown };
  let f: unknown = fn;
  for (let depth = 0; typeof f === 'function' && depth < 16; depth++) {
    if ((f as Wrapped)[mark] === true) return true;
    f = (f as Wrapped).__original;
  }
  return false;
}
