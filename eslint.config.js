import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Who may import whom (README "Architecture"): each layer of src/ lists the layers it must not
 * reach, by the relative import paths that would reach them. Static and dynamic imports alike.
 */
const LAYERS = ['api', 'client', 'cli', 'commands', 'daemon', 'runtime', 'store', 'llm', 'ui', 'p2p', 'net'];
const FORBIDDEN = {
  api: ['client', 'cli', 'commands', 'daemon', 'runtime', 'store', 'llm', 'ui', 'p2p', 'net', 'log.js'],
  client: ['cli', 'commands', 'daemon', 'runtime', 'store', 'llm', 'ui', 'p2p'],
  cli: ['commands', 'daemon', 'store', 'llm', 'p2p'],
  // commands: the thin layer over cli/ and client/; `bkg daemon start` runs the composition root, `bkg doctor` the host checks, `bkg fleet init` prepares the fleet database
  commands: ['daemon(?!/(main|config)\\.js$)', 'runtime(?!/doctor)', 'store(?!/pg/index\\.js$)', 'llm', 'p2p'],
  daemon: ['client', 'cli', 'commands', 'ui'],
  // the fleet's forwarding speaks to other hosts' daemons through the daemon client (only it, and only from here)
  'daemon/fleet': ['cli', 'commands', 'ui'],
  runtime: ['client', 'cli', 'commands', 'daemon', 'store', 'llm', 'ui', 'p2p'],
  store: ['client', 'cli', 'commands', 'daemon', 'llm', 'ui', 'p2p'],
  llm: ['client', 'cli', 'commands', 'daemon', 'ui', 'p2p'],
  // the terminal dashboard (ink): over the typed client and the CLI's helpers, never the daemon's insides
  ui: ['commands', 'daemon', 'runtime', 'store', 'llm', 'p2p'],
  // the P2P plugin's network layer (libp2p): the daemon composes it; it knows nothing of bkg's other layers but the contract
  p2p: ['client', 'cli', 'commands', 'daemon', 'runtime', 'store', 'llm', 'ui'],
  // HTTP/1.1 read by hand on plain sockets (response heads, body framing): a leaf, like the contract
  net: ['api', 'client', 'cli', 'commands', 'daemon', 'runtime', 'store', 'llm', 'ui', 'p2p', 'log.js'],
};

function layerRules(layer) {
  const reach = `^(\\.\\./)+(${FORBIDDEN[layer].join('|')})(/|$)`;
  const message = `src/${layer} must not import this layer (README, "Architecture": who may import whom).`;
  // esquery regexes cannot hold '/': \W stands in for it
  const dynamic = reach.replaceAll('/', '\\W');
  const patterns = [{ regex: reach, message }];
  // the store keeps the runtime's limits in its rows: their types only
  if (layer === 'store') patterns.push({ regex: '^(\\.\\./)+runtime/', message: 'src/store takes only types from src/runtime.', allowTypeImports: true });
  return {
    files: [`src/${layer}/**/*.ts`, `src/${layer}/**/*.tsx`],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns }],
      'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=/${dynamic}/]`, message }],
    },
  };
}

/** The CLI's fast path loads these without zod (100+ ms): they must stay zod-free. */
const ZOD_FREE = ['actions', 'admin', 'errors', 'exec-stream', 'names', 'paths', 'policies', 'sandboxes', 'units'].map((f) => `src/api/${f}.ts`);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'helper/**', 'coverage/**', 'web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...LAYERS.map(layerRules),
  layerRules('daemon/fleet'), // after daemon's: the more specific rule wins for src/daemon/fleet/**
  {
    // bin/ is CommonJS (bin/package.json): the CLI's entry starts without Node's ES module loader; so are .cjs files (bench/lib/spawn-helper.cjs)
    files: ['bin/**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', __dirname: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ZOD_FREE,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { regex: '^(\\.\\./)+(client|cli|commands|daemon|runtime|store|llm|log\\.js)(/|$)', message: 'src/api imports nothing of ours.' },
          { regex: '^zod|/schema/', message: 'The CLI\'s fast path loads this file: no zod here (types only: `import type`).', allowTypeImports: true },
        ],
      }],
    },
  },
);
