import { defineConfig } from 'vite';

// The console is a static single-page app that `promptline serve` serves at `/`. Built from npm
// packages only (npm run build:console); nothing is fetched at run time. Preact through its
// automatic JSX runtime, which Vite's own transform handles: no framework plugin is needed.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The server's Content-Security-Policy allows scripts and styles from the same origin only:
    // nothing may be inlined into the page, not even small assets.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: true,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
  },
});
