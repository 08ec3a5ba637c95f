/** The import-direction rule of eslint.config.js fires: a layer reaching one it must not, statically or dynamically, is a lint error. */
import { describe, expect, it } from 'vitest';
import { layerErrors as ruleErrors } from './helpers/lint.js';

describe('who may import whom', () => {
  it.each([
    ['src/api/probe.ts', "import { startDaemon } from '../daemon/main.js';\nexport const x = startDaemon;\n"],
    ['src/api/schema/probe.ts', "export const load = () => import('../../runtime/engine.js');\n"],
    ['src/client/probe.ts', "import { x } from '../cli/context.js';\nexport const y = x;\n"],
    ['src/runtime/probe.ts', "import { openStore } from '../store/index.js';\nexport const y = openStore;\n"],
    ['src/store/probe.ts', "import { SandboxEngine } from '../runtime/engine.js';\nexport const y = SandboxEngine;\n"],
    ['src/daemon/routes/probe.ts', "import { DaemonClient } from '../../client/daemon-client.js';\nexport const y = DaemonClient;\n"],
    ['src/commands/probe.ts', "export const load = () => import('../store/index.js');\n"],
    ['src/api/names.ts', "import { z } from 'zod/v4';\nexport const y = z;\n"],
    ['src/api/probe.ts', "import { bytes } from '../ui/format.js';\nexport const y = bytes;\n"],
    ['src/daemon/probe.ts', "export const load = () => import('../ui/launch.js');\n"],
    ['src/client/probe.ts', "import { bytes } from '../ui/format.js';\nexport const y = bytes;\n"],
  ])('%s may not', async (file, code) => {
    expect(await ruleErrors(file, code)).not.toEqual([]);
  });

  it.each([
    ['src/daemon/probe.ts', "import { openStore } from '../store/index.js';\nimport type { Limits } from '../runtime/limits.js';\nexport const y = openStore;\nexport type L = Limits;\n"],
    ['src/store/probe.ts', "import type { Limits } from '../runtime/limits.js';\nexport type L = Limits;\n"],
    ['src/commands/daemon/probe.ts', "export const load = () => import('../../daemon/main.js');\n"],
    ['src/cli/probe.ts', "import { DaemonClient } from '../client/daemon-client.js';\nexport const y = DaemonClient;\n"],
    ['src/api/names.ts', "import type { z } from 'zod/v4';\nexport type Y = z.ZodType;\n"],
    ['src/commands/probe.ts', "export const load = () => import('../ui/launch.js');\n"],
  ])('%s may', async (file, code) => {
    expect(await ruleErrors(file, code)).toEqual([]);
  });
});
