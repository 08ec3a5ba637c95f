/** The import rule's one opening for the fleet: src/daemon/fleet may use the daemon client (to reach other hosts); the rest of src/daemon still may not. */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint();

async function ruleErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

describe('who may import the client from src/daemon', () => {
  it('src/daemon/fleet may', async () => {
    expect(await ruleErrors('src/daemon/fleet/probe.ts', "import { DaemonClient } from '../../client/daemon-client.js';\nexport const y = DaemonClient;\n")).toEqual([]);
    expect(await ruleErrors('src/daemon/fleet/probe.ts', "export const load = () => import('../../client/http.js');\n")).toEqual([]);
  });

  it.each([
    ['src/daemon/sandbox/probe.ts', "import { DaemonClient } from '../../client/daemon-client.js';\nexport const y = DaemonClient;\n"],
    ['src/daemon/probe.ts', "export const load = () => import('../client/http.js');\n"],
    ['src/daemon/fleet/probe.ts', "import { x } from '../../cli/context.js';\nexport const y = x;\n"],
    ['src/daemon/fleet/probe.ts', "export const load = () => import('../../commands/ca/init.js');\n"],
  ])('%s may not: %s', async (file, code) => {
    expect(await ruleErrors(file, code)).not.toEqual([]);
  });
});
