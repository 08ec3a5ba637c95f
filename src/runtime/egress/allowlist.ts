/**
 * Deciding a connection against a sandbox's allowlist (the grammar is src/api/egress.ts). Names
 * match names (exactly, or below a `*.` wildcard); IP and CIDR entries match literal addresses only:
 * a name is never let through because of the address it resolves to (a name that resolves to an
 * allowed IP is still refused), and an address is never let through because of a name.
 *
 * Addresses of the host itself and of link-local services (127.0.0.0/8, ::1, 0.0.0.0, ::,
 * 169.254.0.0/16, fe80::/10 — cloud metadata lives there) are reached by name only through an
 * exact name entry (`localhost`), never through a wildcard, unless an IP or CIDR entry covers them.
 */
import { BlockList, isIP } from 'node:net';
import type { AllowRule, DenialReason } from '../../api/egress.js';

export type Verdict = { allowed: true; rule: AllowRule } | { allowed: false; reason: DenialReason; message: string };

/** The host and link-local ranges a wildcard name may not lead to. */
const PROTECTED = (() => {
  const b = new BlockList();
  b.addSubnet('127.0.0.0', 8, 'ipv4');
  b.addSubnet('0.0.0.0', 8, 'ipv4');
  b.addSubnet('169.254.0.0', 16, 'ipv4');
  b.addAddress('::1', 'ipv6');
  b.addAddress('::', 'ipv6');
  b.addSubnet('fe80::', 10, 'ipv6');
  return b;
})();

/** A host as a request names it: lower case, no trailing dot, IPv6 without brackets, IPv4-mapped IPv6 as IPv4. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped?.[1] ?? h;
}

function family(addr: string): 'ipv4' | 'ipv6' {
  return isIP(addr) === 6 ? 'ipv6' : 'ipv4';
}

function portAllowed(rule: AllowRule, port: number): boolean {
  return rule.ports === null || rule.ports.includes(port);
}

function addressMatches(rule: AllowRule, addr: string, list?: BlockListOf): boolean {
  if (rule.kind !== 'ip' && rule.kind !== 'cidr') return false;
  return (list ?? new BlockListOf(rule)).check(addr);
}

/** One rule as a BlockList (IPv6 spellings of one address compare equal there). */
class BlockListOf {
  private readonly list = new BlockList();
  constructor(rule: AllowRule) {
    const type = rule.family === 6 ? 'ipv6' : 'ipv4';
    if (rule.kind === 'cidr') this.list.addSubnet(rule.host, rule.prefix ?? 0, type);
    else this.list.addAddress(rule.host, type);
  }

  check(addr: string): boolean {
    return this.list.check(addr, family(addr));
  }
}

function nameMatches(rule: AllowRule, name: string): boolean {
  if (rule.kind === 'name') return rule.host === name;
  if (rule.kind === 'wildcard') return name.endsWith(`.${rule.host}`);
  return false;
}

/** How many decisions an allowlist remembers. */
const DECISIONS_KEPT = 1024;

export class Allowlist {
  /** The address rules as BlockLists, built once. */
  private readonly lists = new Map<AllowRule, BlockListOf>();
  /** Decisions made, by host and port as asked (the rules never change): a proxy asks for every request. */
  private readonly decided = new Map<string, Verdict>();

  constructor(readonly rules: readonly AllowRule[]) {
    for (const r of rules) if (r.kind === 'ip' || r.kind === 'cidr') this.lists.set(r, new BlockListOf(r));
  }

  private matchesAddress(rule: AllowRule, addr: string): boolean {
    return addressMatches(rule, addr, this.lists.get(rule));
  }

  /** The first decision: the host (a name or a literal address, as the request names it) and port. */
  decide(rawHost: string, port: number): Verdict {
    const key = `${rawHost}\0${port}`;
    const known = this.decided.get(key);
    if (known) return known;
    const v = this.decideAfresh(rawHost, port);
    if (this.decided.size >= DECISIONS_KEPT) this.decided.clear();
    this.decided.set(key, v);
    return v;
  }

  private decideAfresh(rawHost: string, port: number): Verdict {
    const host = normalizeHost(rawHost);
    const literal = isIP(host) !== 0;
    const matching = this.rules.filter((r) => (literal ? this.matchesAddress(r, host) : nameMatches(r, host)));
    if (matching.length === 0) {
      return { allowed: false, reason: 'not_allowed', message: `${host} is not on this sandbox's allowlist` };
    }
    const rule = matching.find((r) => portAllowed(r, port));
    if (!rule) {
      const ports = [...new Set(matching.flatMap((r) => r.ports ?? []))].sort((a, b) => a - b);
      return { allowed: false, reason: 'port', message: `${host} is allowed on port${ports.length > 1 ? 's' : ''} ${ports.join(', ')} only, not ${port}` };
    }
    return { allowed: true, rule };
  }

  /**
   * The second decision, for a name, once the proxy resolved it: `addr` may be connected to unless
   * it is one of the host's own or link-local addresses reached through a wildcard entry (an exact
   * name entry, or an IP / CIDR entry covering the address, allows it).
   */
  admitsAddress(rule: AllowRule, rawAddr: string, port: number): boolean {
    const addr = normalizeHost(rawAddr);
    if (rule.kind !== 'wildcard') return true;
    if (!PROTECTED.check(addr, family(addr))) return true;
    return this.rules.some((r) => portAllowed(r, port) && this.matchesAddress(r, addr));
  }
}

/**
 * Whether every rule of `asked` lies within one of `granted` (a namespace policy's `allow:` entries):
 * the same name or a name below a granted wildcard, a narrower wildcard, an address or range inside a
 * granted one; and only ports the granting entry allows.
 */
export function allowlistCovers(granted: readonly AllowRule[], asked: readonly AllowRule[]): AllowRule | null {
  const portsWithin = (g: AllowRule, a: AllowRule): boolean => g.ports === null || (a.ports !== null && a.ports.every((p) => g.ports?.includes(p)));
  const within = (g: AllowRule, a: AllowRule): boolean => {
    if (!portsWithin(g, a)) return false;
    switch (a.kind) {
      case 'name':
        return nameMatches(g, a.host);
      case 'wildcard':
        return g.kind === 'wildcard' && (a.host === g.host || a.host.endsWith(`.${g.host}`));
      case 'ip':
        return addressMatches(g, normalizeHost(a.host));
      case 'cidr': {
        if (g.kind !== 'cidr' || g.family !== a.family || (g.prefix ?? 0) > (a.prefix ?? 0)) return false;
        return addressMatches(g, a.host);
      }
    }
  };
  return asked.find((a) => !granted.some((g) => within(g, a))) ?? null;
}
