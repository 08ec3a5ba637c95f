/** CI fails when package-lock.json does not match package.json: the real files match, and each kind of drift is named. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/runtime/host.js';
// @ts-expect-error: a plain ESM script without types
import { lockfileProblems, satisfies } from '../../scripts/check-lockfile.mjs';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const read = (f: string): Json => JSON.parse(readFileSync(join(packageRoot(), f), 'utf8')) as Json;
const problems = lockfileProblems as (pkg: Json, lock: Json) => string[];

describe('package-lock.json against package.json', () => {
  it('matches: the same specs in the lockfile\'s root entry, each installed at a version its spec allows', () => {
    expect(problems(read('package.json'), read('package-lock.json'))).toEqual([]);
  });

  it('names a dependency added, removed, re-specified or locked at a version its spec refuses', () => {
    const pkg = read('package.json');
    const lock = read('package-lock.json');
    const added = { ...pkg, dependencies: { ...pkg.dependencies, 'left-pad': '1.3.0' } };
    expect(problems(added, lock)).toEqual(expect.arrayContaining([expect.stringMatching(/^dependencies\.left-pad: in package\.json \(1\.3\.0\), not in package-lock\.json$/)]));
    const { pino: _removed, ...rest } = pkg.dependencies as Record<string, string>;
    expect(problems({ ...pkg, dependencies: rest }, lock)).toEqual(['dependencies.pino: in package-lock.json (^10.4.0), not in package.json']);
    expect(problems({ ...pkg, devDependencies: { ...pkg.devDependencies, ajv: '6.14.0' } }, lock)).toEqual([
      'devDependencies.ajv: package.json says 6.14.0, package-lock.json 6.15.0',
      'devDependencies.ajv: package-lock.json has 6.15.0, which 6.14.0 does not allow',
    ]);
    expect(problems({ ...pkg, version: '9.9.9' }, lock)).toEqual([expect.stringMatching(/^version: package.json says 9\.9\.9/)]);
    const stale = structuredClone(lock);
    stale.packages['node_modules/pino'].version = '9.0.0';
    expect(problems(pkg, stale)).toEqual(['dependencies.pino: package-lock.json has 9.0.0, which ^10.4.0 does not allow']);
  });

  it('reads exact, ^ and ~ specs as npm does', () => {
    const s = satisfies as (v: string, spec: string) => boolean | null;
    expect([s('1.2.3', '^1.0.0'), s('2.0.0', '^1.0.0'), s('0.2.5', '^0.2.1'), s('0.3.0', '^0.2.1'), s('0.0.4', '^0.0.3')]).toEqual([true, false, true, false, false]);
    expect([s('1.2.9', '~1.2.0'), s('1.3.0', '~1.2.0'), s('1.2.3', '1.2.3'), s('1.2.4', '1.2.3'), s('1.0.0', '^1.0.1')]).toEqual([true, false, true, false, false]);
  });
});
