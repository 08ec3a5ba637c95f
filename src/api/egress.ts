/**
 * The network egress allowlist as users write it: `--network allow:HOST[:PORT],…`, cave.yaml's
 * `network: {allow: [...]}`, REST's and MCP's `network` field. One grammar for every door (zod-free:
 * the CLI's fast path may load it); the runtime's proxy matches connections against the rules.
 *
 *   pypi.org            a host name (exactly that name), ports 80 and 443
 *   *.pypi.org          any name below pypi.org (files.pypi.org, a.b.pypi.org; not pypi.org itself)
 *   github.com:443      one port; `:*` any port
 *   10.1.2.3, [::1]:8080, 10.0.0.0/8, [fd00::/8]:443    IP addresses and CIDR ranges (for literal IPs)
 *
 * A sandbox's network is stored and shown as one string: `none`, `host`, or `allow:` and its
 * canonical entries joined by commas (`allow:pypi.org,*.pypi.org,github.com:443`).
 */
import { isIP } from 'node:net';
import { BkgError } from './errors.js';

export const NETWORK_ALLOW_PREFIX = 'allow:';
/** Where the egress proxy listens inside a sandbox (its own loopback). */
export const EGRESS_PROXY_PORT = 3128;
/** Ports an entry without one allows: plain HTTP and HTTPS. */
export const DEFAULT_EGRESS_PORTS: readonly number[] = [80, 443];
export const MAX_ALLOW_ENTRIES = 64;
/** Why the proxy refused a connection. */
export const DENIAL_REASONS = ['not_allowed', 'port', 'address'] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

export type AllowKind = 'name' | 'wildcard' | 'ip' | 'cidr';

export interface AllowRule {
  kind: AllowKind;
  /** Lower case; for `wildcard` the suffix without `*.`; for `ip` / `cidr` the address (IPv6 without brackets). */
  host: string;
  /** For `cidr`: the prefix length. */
  prefix?: number;
  family?: 4 | 6;
  /** The ports allowed; null: any port. */
  ports: readonly number[] | null;
  /** As written back: `*.pypi.org`, `github.com:443`, `[::1]:8080`, `10.0.0.0/8:*`. */
  text: string;
}

/** A network as stored and shown: `none`, `host`, or `allow:` and the canonical entries. */
export type NetworkString = 'none' | 'host' | `${typeof NETWORK_ALLOW_PREFIX}${string}`;

/** What a request may give as `network`: a mode, the string form, or the object form of an allowlist. */
export type NetworkInput = string | { allow: string[] };

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function bad(field: string, entry: string, problem: string): BkgError {
  return new BkgError('INVALID_ARGUMENT', `${field}: "${entry}" ${problem}`, {
    hint: 'Allowlist entries are HOST, HOST:PORT, *.DOMAIN[:PORT], an IP address or a CIDR range (IPv6 in brackets with a port: [::1]:8080); PORT is 1-65535 or *. Without a port, 80 and 443 are allowed.',
    details: { field },
  });
}

function isName(host: string): boolean {
  if (host.length > 253) return false;
  const labels = host.split('.');
  return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1] ?? '');
}

function splitPort(entry: string): { host: string; port: string | null } {
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']');
    if (end < 0) return { host: entry, port: null };
    const rest = entry.slice(end + 1);
    return { host: entry.slice(1, end), port: rest.startsWith(':') ? rest.slice(1) : rest === '' ? null : rest };
  }
  const colons = entry.split(':').length - 1;
  if (colons === 1) {
    const at = entry.lastIndexOf(':');
    return { host: entry.slice(0, at), port: entry.slice(at + 1) };
  }
  return { host: entry, port: null }; // a bare IPv6 address or range (no port), or a name
}

function formatHost(r: Pick<AllowRule, 'kind' | 'host' | 'prefix' | 'family'>): string {
  const base = r.kind === 'wildcard' ? `*.${r.host}` : r.kind === 'cidr' ? `${r.host}/${r.prefix}` : r.host;
  return r.family === 6 ? `[${base}]` : base;
}

function formatRule(r: Omit<AllowRule, 'text'>): string {
  const host = formatHost(r);
  if (r.ports === null) return `${host}:*`;
  if (r.ports === DEFAULT_EGRESS_PORTS) return r.family === 6 ? host.slice(1, -1) : host;
  return `${host}:${r.ports[0]}`;
}

/** One allowlist entry; INVALID_ARGUMENT naming `field` when it is not one. */
export function parseAllowEntry(raw: string, field = 'network'): AllowRule {
  const entry = raw.trim().toLowerCase();
  if (!entry || entry.length > 300) throw bad(field, raw, 'is not an allowlist entry');
  const { host: rawHost, port: rawPort } = splitPort(entry);
  let ports: readonly number[] | null = DEFAULT_EGRESS_PORTS;
  if (rawPort !== null) {
    if (rawPort === '*') ports = null;
    else if (/^\d{1,5}$/.test(rawPort) && Number(rawPort) >= 1 && Number(rawPort) <= 65535) ports = [Number(rawPort)];
    else throw bad(field, raw, `has a bad port "${rawPort}" (1-65535, or * for any)`);
  }
  const host = rawHost.endsWith('.') ? rawHost.slice(0, -1) : rawHost;
  let rule: Omit<AllowRule, 'text'>;
  const slash = host.indexOf('/');
  if (slash >= 0) {
    const addr = host.slice(0, slash);
    const family = isIP(addr);
    const prefix = host.slice(slash + 1);
    const max = family === 6 ? 128 : 32;
    if (family === 0 || !/^\d{1,3}$/.test(prefix) || Number(prefix) > max) throw bad(field, raw, 'is not a CIDR range (examples: 10.0.0.0/8, [fd00::/8]:443)');
    rule = { kind: 'cidr', host: addr, prefix: Number(prefix), family: family as 4 | 6, ports };
  } else if (isIP(host)) {
    rule = { kind: 'ip', host, family: isIP(host) as 4 | 6, ports };
  } else if (host.startsWith('*.')) {
    if (!isName(host.slice(2)) || !host.slice(2).includes('.')) throw bad(field, raw, 'is not a wildcard entry (*.DOMAIN below a domain with a dot, e.g. *.pypi.org)');
    rule = { kind: 'wildcard', host: host.slice(2), ports };
  } else if (isName(host)) {
    rule = { kind: 'name', host, ports };
  } else {
    throw bad(field, raw, host.includes('*') ? 'has a * that is not a leading "*." (only *.DOMAIN wildcards exist)' : 'is not a host name, IP address or CIDR range');
  }
  return { ...rule, text: formatRule(rule) };
}

/** The entries of an allowlist: parsed, duplicates dropped, at least one and at most MAX_ALLOW_ENTRIES (`indexed`: errors name `field.allow[i]`). */
export function parseAllowlist(entries: readonly string[], field = 'network', indexed = true): AllowRule[] {
  if (entries.length === 0) throw new BkgError('INVALID_ARGUMENT', `${field}: an allowlist needs at least one entry (allow:HOST[:PORT],…)`, { details: { field } });
  if (entries.length > MAX_ALLOW_ENTRIES) throw new BkgError('INVALID_ARGUMENT', `${field}: at most ${MAX_ALLOW_ENTRIES} allowlist entries`, { details: { field } });
  const seen = new Map<string, AllowRule>();
  entries.forEach((e, i) => {
    const r = parseAllowEntry(e, indexed ? `${field}.allow[${i}]` : field);
    if (!seen.has(r.text)) seen.set(r.text, r);
  });
  return [...seen.values()];
}

/** Whether a stored or requested network is an allowlist (`allow:…`). */
export function isAllowNetwork(network: string): boolean {
  return network.startsWith(NETWORK_ALLOW_PREFIX);
}

/** The rules of an `allow:…` network string. */
export function allowRulesOf(network: string, field = 'network'): AllowRule[] {
  if (!isAllowNetwork(network)) return [];
  return parseAllowlist(network.slice(NETWORK_ALLOW_PREFIX.length).split(',').filter((e) => e.trim() !== ''), field, false);
}

/** The one string a network is stored and shown as: `none`, `host` or `allow:ENTRY,…` (entries canonical). */
export function canonicalNetwork(input: NetworkInput | undefined, field = 'network'): NetworkString {
  if (input === undefined) return 'none';
  if (typeof input === 'object') return `${NETWORK_ALLOW_PREFIX}${parseAllowlist(input.allow, field).map((r) => r.text).join(',')}`;
  if (input === 'none' || input === 'host') return input;
  if (isAllowNetwork(input)) return `${NETWORK_ALLOW_PREFIX}${allowRulesOf(input, field).map((r) => r.text).join(',')}`;
  throw new BkgError('INVALID_ARGUMENT', `${field}: "${input}" is not a network (none, host, or allow:HOST[:PORT],…)`, { details: { field } });
}

/** A `--network` flag's value as a request field: `allow:…` becomes the object form cave.yaml and REST use. */
export function networkFromFlag(value: string, flag = '--network'): NetworkInput {
  if (value === 'none' || value === 'host') return value;
  if (isAllowNetwork(value)) return { allow: allowRulesOf(value, flag).map((r) => r.text) };
  throw new BkgError('INVALID_ARGUMENT', `${flag}: "${value}" is not a network (none, host, or allow:HOST[:PORT],…)`, { details: { flag } });
}

/** The hosts and ports an allowlist lets through, for messages. */
export function describeAllowlist(rules: readonly AllowRule[]): string {
  return rules.map((r) => r.text).join(', ');
}

/**
 * A namespace policy's `networks` entries: `none`, `host`, `allow` (any allowlist), or `allow:ENTRY`
 * (allowlists whose every entry lies within ENTRY: the same name or one below a granted wildcard, an
 * address inside a granted range, only ports it grants). `host` grants any allowlist too: an
 * allowlist is narrower than the host's network.
 */
export const POLICY_NETWORK_MODES = ['none', 'host', 'allow'] as const;

/** Why a policy's `networks` entry is not one, or null. */
export function policyNetworkProblem(item: string): string | null {
  if ((POLICY_NETWORK_MODES as readonly string[]).includes(item)) return null;
  if (!isAllowNetwork(item)) return `"${item}" is not a network (none, host, allow, or allow:ENTRY — each allowlist entry with its own allow: prefix)`;
  try {
    parseAllowEntry(item.slice(NETWORK_ALLOW_PREFIX.length));
    return null;
  } catch (err) {
    return (err as Error).message.replace(/^[^:]*: /, '');
  }
}

/** What a policy's `networks` grant of allowlists: any, only those within these rules, or none at all. */
export function policyAllowlists(networks: readonly string[]): 'any' | AllowRule[] {
  if (networks.includes('host') || networks.includes('allow')) return 'any';
  return networks.filter(isAllowNetwork).map((n) => parseAllowEntry(n.slice(NETWORK_ALLOW_PREFIX.length)));
}
