/** The egress allowlist's grammar (src/api/egress.ts) and how connections are decided against it (src/runtime/egress/allowlist.ts): pure functions. */
import { describe, expect, it } from 'vitest';
import { canonicalNetwork, networkFromFlag, parseAllowEntry, policyNetworkProblem } from '../../src/api/egress.js';
import { parse } from '../../src/api/parse.js';
import { CreateSandboxRequest } from '../../src/api/schema/sandboxes.js';
import { Allowlist } from '../../src/runtime/egress/allowlist.js';

const list = (...entries: string[]) => new Allowlist(entries.map((e) => parseAllowEntry(e)));

describe('allowlist entries', () => {
  it.each([
    ['pypi.org', 'name', 'pypi.org', [80, 443]],
    ['PyPI.org.', 'name', 'pypi.org', [80, 443]],
    ['*.pypi.org', 'wildcard', '*.pypi.org', [80, 443]],
    ['github.com:22', 'name', 'github.com:22', [22]],
    ['github.com:*', 'name', 'github.com:*', null],
    ['10.1.2.3', 'ip', '10.1.2.3', [80, 443]],
    ['10.0.0.0/8:443', 'cidr', '10.0.0.0/8:443', [443]],
    ['[::1]:8080', 'ip', '[::1]:8080', [8080]],
    ['fd00::/8', 'cidr', 'fd00::/8', [80, 443]],
    ['[fd00::/8]:*', 'cidr', '[fd00::/8]:*', null],
  ])('%s', (entry, kind, text, ports) => {
    expect(parseAllowEntry(entry)).toMatchObject({ kind, text, ports });
  });

  it.each(['*', '*.org', 'a.*.org', 'exa mple.com', 'pypi.org:0', 'pypi.org:65536', 'pypi.org:http', '10.0.0.0/33', '127.1', '-a.org', '', 'ex_ample.com'])('refuses %j', (entry) => {
    expect(() => parseAllowEntry(entry)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('one canonical string from the flag, the string and the object forms', () => {
    expect(networkFromFlag('allow:PyPI.org,*.pypi.org:443,pypi.org')).toEqual({ allow: ['pypi.org', '*.pypi.org:443'] });
    expect(canonicalNetwork({ allow: ['pypi.org', '*.pypi.org:443'] })).toBe('allow:pypi.org,*.pypi.org:443');
    expect(canonicalNetwork('allow:pypi.org,*.pypi.org:443')).toBe('allow:pypi.org,*.pypi.org:443');
    expect(canonicalNetwork(undefined)).toBe('none');
    expect(() => networkFromFlag('open')).toThrow(/none, host, or allow:/);
  });

  it('the request schema takes both forms and names the bad entry', () => {
    expect(parse(CreateSandboxRequest, { name: 'a', network: { allow: ['pypi.org'] } }).network).toEqual({ allow: ['pypi.org'] });
    expect(parse(CreateSandboxRequest, { name: 'a', network: 'allow:pypi.org' }).network).toBe('allow:pypi.org');
    expect(() => parse(CreateSandboxRequest, { name: 'a', network: { allow: ['pypi.org', 'x y'] } })).toThrow(/^network: "x y" is not a host name/);
    expect(() => parse(CreateSandboxRequest, { name: 'a', network: 7 })).toThrow(/network: must be none, host, allow:/);
  });

  it('policy entries: none, host, allow, allow:ENTRY', () => {
    for (const ok of ['none', 'host', 'allow', 'allow:*.pypi.org', 'allow:10.0.0.0/8:*']) expect(policyNetworkProblem(ok)).toBeNull();
    expect(policyNetworkProblem('allow:')).toMatch(/is not an allowlist entry/);
    expect(policyNetworkProblem('pypi.org')).toMatch(/each allowlist entry with its own allow: prefix/);
  });
});

describe('deciding a connection', () => {
  it('matches names exactly or below a wildcard, on the allowed ports', () => {
    const a = list('pypi.org', '*.pythonhosted.org:443', 'github.com:*');
    expect(a.decide('pypi.org', 443)).toMatchObject({ allowed: true });
    expect(a.decide('PYPI.ORG.', 80)).toMatchObject({ allowed: true });
    expect(a.decide('pypi.org', 8080)).toMatchObject({ allowed: false, reason: 'port' });
    expect(a.decide('files.pythonhosted.org', 443)).toMatchObject({ allowed: true });
    expect(a.decide('a.b.pythonhosted.org', 443)).toMatchObject({ allowed: true });
    expect(a.decide('pythonhosted.org', 443)).toMatchObject({ allowed: false, reason: 'not_allowed' });
    expect(a.decide('evilpythonhosted.org', 443)).toMatchObject({ allowed: false, reason: 'not_allowed' });
    expect(a.decide('github.com', 22)).toMatchObject({ allowed: true });
    expect(a.decide('www.pypi.org', 443)).toMatchObject({ allowed: false, reason: 'not_allowed' });
  });

  it('matches literal addresses only against IP and CIDR entries, IPv4-mapped IPv6 included', () => {
    const a = list('10.0.0.0/8', '[2001:db8::1]:443', 'example.com');
    expect(a.decide('10.9.8.7', 80)).toMatchObject({ allowed: true });
    expect(a.decide('::ffff:10.9.8.7', 80)).toMatchObject({ allowed: true });
    expect(a.decide('[2001:db8:0::1]', 443)).toMatchObject({ allowed: true });
    expect(a.decide('11.0.0.1', 80)).toMatchObject({ allowed: false, reason: 'not_allowed' });
    expect(a.decide('93.184.216.34', 80)).toMatchObject({ allowed: false, reason: 'not_allowed' }); // example.com's address is not example.com
  });

  it('never lets a wildcard name reach the host\'s own or link-local addresses, unless an address entry or an exact name does', () => {
    const a = list('*.example.com', 'localhost');
    const wild = a.decide('x.example.com', 443);
    const exact = a.decide('localhost', 443);
    if (!wild.allowed || !exact.allowed) throw new Error('both are allowed by name');
    for (const addr of ['127.0.0.1', '127.8.9.1', '::1', '169.254.169.254', 'fe80::1', '0.0.0.0', '::ffff:127.0.0.1']) expect(a.admitsAddress(wild.rule, addr, 443), addr).toBe(false);
    expect(a.admitsAddress(wild.rule, '93.184.216.34', 443)).toBe(true);
    expect(a.admitsAddress(wild.rule, '10.0.0.1', 443)).toBe(true);
    expect(a.admitsAddress(exact.rule, '127.0.0.1', 443)).toBe(true);
    const withRange = list('*.example.com', '169.254.169.254:443');
    const w = withRange.decide('meta.example.com', 443);
    if (!w.allowed) throw new Error('allowed by name');
    expect(withRange.admitsAddress(w.rule, '169.254.169.254', 443)).toBe(true);
    expect(withRange.admitsAddress(w.rule, '169.254.169.254', 80)).toBe(false);
  });
});
