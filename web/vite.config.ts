/**
 * The web UI's build: web/ → dist/web (served by the daemon at /ui/). Hashed file names under
 * assets/ (the daemon caches them for a year); nothing inlined as data: URIs; the terminal and the
 * workflow canvas are split into chunks of their own, loaded when their page opens.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/ui/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
    rolldownOptions: {
      // React Flow marks itself "use client" (for server components); nothing here renders on a server
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
});
