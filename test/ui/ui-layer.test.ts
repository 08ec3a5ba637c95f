/** src/ui is a layer of its own (eslint.config.js): over the client, the contract and the CLI's helpers, never the daemon's insides; .tsx files included. */
import { describe, expect, it } from 'vitest';
import { layerErrors } from '../helpers/lint.js';

describe('the ui layer', () => {
  it.each([
    ['src/ui/probe.ts', "import { startDaemon } from '../daemon/main.js';\nexport const y = startDaemon;\n"],
    ['src/ui/components/Probe.tsx', "import { openStore } from '../../store/index.js';\nexport const y = openStore;\n"],
    ['src/ui/state/probe.ts', "export const load = () => import('../../runtime/engine.js');\n"],
    ['src/ui/probe.tsx', "import Ls from '../commands/ls.js';\nexport const y = Ls;\n"],
    ['src/ui/probe.ts', "import { x } from '../llm/registry/registry.js';\nexport const y = x;\n"],
  ])('%s may not reach the daemon, store, runtime, llm or commands', async (file, code) => {
    expect(await layerErrors(file, code)).toEqual([expect.stringContaining('src/ui must not import this layer')]);
  });

  it.each([
    ['src/ui/probe.tsx', "import { DaemonClient } from '../client/daemon-client.js';\nimport { BkgError } from '../api/errors.js';\nimport { renderTable } from '../cli/format.js';\nexport const y = [DaemonClient, BkgError, renderTable];\n"],
    ['src/commands/probe.ts', "export const load = () => import('../ui/launch.js');\n"],
  ])('%s may', async (file, code) => {
    expect(await layerErrors(file, code)).toEqual([]);
  });
});
