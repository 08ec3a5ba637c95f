// Command-line options for a bench script: flags, each with an environment override, an optional
// --quick mode with smaller defaults, a --smoke mode with the smallest settings (for the CI perf
// smoke, test/bench-smoke.test.ts), --help generated from the same table, and die() for errors.

let prog = 'bench';
let errorStatus = 1;

/** Print `<prog>: msg` on stderr and exit (status 1, or the script's own). */
export function die(msg) {
  console.error(`${prog}: ${msg}`);
  process.exit(errorStatus);
}

const isOn = (v) => v !== undefined && v !== '' && v !== '0';

/**
 * Parse process.argv against a table of options; returns `{ quick?, smoke, ...each option's value }`
 * in the table's order. Precedence: flag, then its environment variable, then the smoke value (with
 * --smoke or $BENCH_SMOKE=1), then the quick default (with --quick or $BENCH_QUICK=1), then the
 * default.
 *
 * --smoke, which every script accepts, runs each numeric option at its `smoke` value, or else at
 * its minimum (`min`, default 1): the fewest rounds that still run every code path, so the scripts
 * cannot rot. Its figures mean nothing. It implies --quick.
 *
 * @param {object} spec
 * @param {string} spec.prog     prefix of error messages ('daemon-bench')
 * @param {string} spec.script   the file, for the usage line ('daemon.mjs')
 * @param {string} [spec.quick]  enables --quick / $BENCH_QUICK; its help text
 * @param {number} [spec.exitCode] status for a bad option (default 1)
 * @param {Record<string, {flag: string, alias?: string, env?: string, type?: 'int'|'number'|'string'|'boolean',
 *   default?: any, quick?: any, smoke?: any, min?: number, arg?: string, help: string, shownDefault?: string, more?: string[]}>} spec.options
 */
export function parseOptions(spec, argv = process.argv.slice(2)) {
  prog = spec.prog;
  errorStatus = spec.exitCode ?? 1;
  const env = process.env;
  const entries = Object.entries(spec.options);
  let quick = spec.quick !== undefined && isOn(env.BENCH_QUICK);
  let smoke = isOn(env.BENCH_SMOKE);
  const raw = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const found = entries.find(([, o]) => o.flag === flag || o.alias === flag);
    if (flag === '--help' || flag === '-h') {
      console.log(usage(spec));
      process.exit(0);
    } else if (flag === '--quick' && spec.quick !== undefined) quick = true;
    else if (flag === '--smoke') smoke = true;
    else if (found && found[1].type === 'boolean') raw[found[0]] = true;
    else if (found) raw[found[0]] = { value: inline ?? argv[++i] ?? die(`${flag} needs a value`), from: flag };
    else die(`unknown argument "${argv[i]}" (try --help)`);
  }
  if (smoke && spec.quick !== undefined) quick = true;
  const out = spec.quick !== undefined ? { quick, smoke } : { smoke };
  for (const [key, o] of entries) {
    if (o.type === 'boolean') {
      out[key] = raw[key] === true || (o.env !== undefined && isOn(env[o.env]));
      continue;
    }
    const given = raw[key] ?? (o.env !== undefined && env[o.env] !== undefined ? { value: env[o.env], from: `$${o.env}` } : undefined);
    if (!given) {
      if (smoke && o.type !== 'string') out[key] = o.smoke ?? o.min ?? 1;
      else out[key] = quick && o.quick !== undefined ? o.quick : o.default;
      continue;
    }
    if (o.type === 'string') {
      out[key] = given.value;
      continue;
    }
    const n = Number(given.value);
    const min = o.min ?? 1;
    const int = o.type !== 'number';
    if (!Number.isFinite(n) || n < min || (int && !Number.isInteger(n))) die(`${given.from}: needs ${int ? 'an integer' : 'a number'} >= ${min}, got "${given.value}"`);
    out[key] = n;
  }
  return out;
}

function usage(spec) {
  const rows = [];
  if (spec.quick !== undefined) rows.push(['--quick', `${spec.quick} ($BENCH_QUICK=1)`]);
  rows.push(['--smoke', 'smallest settings, for the CI perf smoke: the figures mean nothing ($BENCH_SMOKE=1)']);
  for (const o of Object.values(spec.options)) {
    const flag = [o.alias, o.flag].filter(Boolean).join(', ') + (o.type === 'boolean' ? '' : ` ${o.arg ?? 'N'}`);
    const facts = [];
    if (o.type !== 'boolean') facts.push(`default ${o.shownDefault ?? o.default}`);
    if (spec.quick !== undefined && o.quick !== undefined && o.quick !== o.default) facts.push(`quick ${o.quick}`);
    if (o.env) facts.push(`$${o.env}`);
    rows.push([flag, `${o.help}${facts.length ? ` (${facts.join('; ')})` : ''}`], ...(o.more ?? []).map((m) => ['', m]));
  }
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [`usage: node bench/${spec.script} [options]`, '', ...rows.map(([f, text]) => `  ${f.padEnd(width)}${text}`)].join('\n');
}
