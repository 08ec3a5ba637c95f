/**
 * NO_COLOR: no colour (nor any other text attribute) at all. Colours are forced on for ink here
 * (FORCE_COLOR, before ink loads), so that the test proves the theme is what keeps them out.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MiB, sample, stateOf, usage, view } from './fixtures.js';

type Modules = [typeof import('ink-testing-library'), typeof import('../../src/ui/components/App.js'), typeof import('../../src/ui/components/theme.js')];
let mods: Modules;

beforeAll(async () => {
  process.env.FORCE_COLOR = '3';
  mods = await Promise.all([import('ink-testing-library'), import('../../src/ui/components/App.js'), import('../../src/ui/components/theme.js')]);
});

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/;

describe('colour', () => {
  const web = view('web');
  const old = view('old', { status: 'stopped', started_at: null });
  const s = stateOf([web, old], [{ type: 'event', event: usage([sample(web, { memory_bytes: 240 * MiB })]) }]);

  it('with colour: states, the memory bar and the selection are coloured', () => {
    const [{ render }, { Frame }] = mods;
    const t = render(<Frame s={s} columns={100} rows={30} theme={{ color: true }} />);
    const f = t.lastFrame() ?? '';
    t.unmount();
    expect(f).toMatch(SGR);
    expect(f).toContain('\x1b[31m'); // red: 240 of 256 MiB
  });

  it('NO_COLOR: not one escape sequence, and the selection still shows', () => {
    const [{ render }, { Frame }, { themeFromEnv }] = mods;
    expect(themeFromEnv({ NO_COLOR: '1' })).toEqual({ color: false });
    expect(themeFromEnv({})).toEqual({ color: true });
    const t = render(<Frame s={s} columns={100} rows={30} theme={themeFromEnv({ NO_COLOR: '1' })} />);
    const f = t.lastFrame() ?? '';
    t.unmount();
    expect(f).not.toContain('\x1b');
    expect(f).toMatch(/\n> old\s+default\s+stopped/);
  });
});
