/**
 * Deployment definitions, checked without a cluster, a container engine or a booted systemd: the
 * Helm chart's values against its values.schema.json (ajv, draft-07), its templates rendered with
 * a small renderer (test/deploy/helm-render.ts) and their YAML structure checked; the systemd unit
 * through `systemd-analyze verify`; the Containerfile's instructions.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { packageRoot } from '../../src/runtime/host.js';
import { parseHelpers, renderTemplate } from './helm-render.js';

const root = packageRoot();
const chart = join(root, 'deploy', 'helm', 'bkg');
const read = (p: string): string => readFileSync(p, 'utf8');
const values = (): Record<string, unknown> => parse(read(join(chart, 'values.yaml'))) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true }).compile(JSON.parse(read(join(chart, 'values.schema.json'))) as object);

interface Container {
  name: string;
  image: string;
  securityContext: { privileged: boolean };
  env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }[];
  livenessProbe: { httpGet: { host: string; path: string; port: number } };
  readinessProbe: { httpGet: { host: string; path: string; port: number } };
  startupProbe: { httpGet: { host: string; path: string; port: number } };
  resources: { requests: { cpu: string; memory: string } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface DaemonSet {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels: Record<string, string> };
  spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { hostNetwork: boolean; containers: Container[]; volumes: { name: string; secret?: { secretName: string } }[] } } };
}

function render(v: Record<string, unknown>): DaemonSet[] {
  const helpers = parseHelpers(read(join(chart, 'templates', '_helpers.tpl')));
  const scope = { Values: v, Release: { Name: 'test' }, Chart: { AppVersion: String((parse(read(join(chart, 'Chart.yaml'))) as { appVersion: string }).appVersion) } };
  const docs: DaemonSet[] = [];
  for (const f of readdirSync(join(chart, 'templates')).filter((n) => n.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(renderTemplate(read(join(chart, 'templates', f)), scope, helpers))) {
      expect(doc.errors, `${f}: ${doc.errors.map((e) => e.message).join('; ')}`).toEqual([]);
      docs.push(doc.toJS() as DaemonSet);
    }
  }
  return docs;
}

const envOf = (c: Container, name: string) => c.env.find((e) => e.name === name);

describe('Helm chart deploy/helm/bkg', () => {
  it('has a Chart.yaml for Helm 3 and default values that its schema accepts', () => {
    const meta = parse(read(join(chart, 'Chart.yaml'))) as Record<string, string>;
    expect(meta).toMatchObject({ apiVersion: 'v2', name: 'bkg', type: 'application' });
    expect(meta.appVersion).toBe((JSON.parse(read(join(root, 'package.json'))) as { version: string }).version);
    const v = values();
    expect(validate(v), JSON.stringify(validate.errors)).toBe(true);
    expect(Object.keys(v)).toEqual(expect.arrayContaining(['operator_ca_secret', 'cosign_key_secret', 'otel_sampling_rate', 'resources']));
  });

  it('refuses values the daemon would refuse or that mean nothing', () => {
    const bad: [string, Record<string, unknown>][] = [
      ['a sampling rate above 1', { ...values(), otel_sampling_rate: 1.5 }],
      ['a sampling rate as text', { ...values(), otel_sampling_rate: 'half' }],
      ['no master key Secret', { ...values(), master_key_secret: { name: '', key: 'k' } }],
      ['an unknown value', { ...values(), operator_ca: 'typo' }],
      ['no resource requests', { ...values(), resources: {} }],
      ['an invalid Secret name', { ...values(), cosign_key_secret: 'Not_A_Name' }],
      ['an OTLP endpoint that is not http(s)', { ...values(), otel_endpoint: 'grpc://collector:4317' }],
    ];
    for (const [why, v] of bad) expect(validate(v), why).toBe(false);
  });

  it('renders one privileged daemon per node, with /healthz probes, secrets from Secrets, and the sampling rate', () => {
    const [ds, ...rest] = render(values());
    expect(rest).toEqual([]);
    expect(ds).toMatchObject({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'test-bkg' } });
    const sel = ds?.spec.selector.matchLabels ?? {};
    for (const [k, val] of Object.entries(sel)) expect(ds?.spec.template.metadata.labels[k]).toBe(val);
    const pod = ds?.spec.template.spec;
    expect(pod?.hostNetwork).toBe(true);
    const c = pod?.containers[0] as Container;
    expect(c.image).toBe('ghcr.io/example/bkg:0.1.0');
    expect(c.securityContext.privileged).toBe(true);
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) expect(probe.httpGet).toEqual({ host: '127.0.0.1', path: '/healthz', port: 7420 });
    expect(envOf(c, 'BKG_MASTER_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: 'bkg-master-key', key: 'master-key' });
    expect(envOf(c, 'CAVE_OTEL_SAMPLING_RATE')?.value).toBe('1');
    expect(envOf(c, 'BKG_PORT')?.value).toBe('7420');
    expect(c.resources.requests).toEqual({ cpu: '500m', memory: '512Mi' });
    // off by default: no fleet database, no peer listener, no cosign key, no traces exported
    for (const name of ['BKG_DATABASE_URL', 'BKG_PEER_PORT', 'BKG_TLS_CA', 'OTEL_EXPORTER_OTLP_ENDPOINT']) expect(envOf(c, name), name).toBeUndefined();
    expect(c.volumeMounts.map((m) => m.mountPath).sort()).toEqual(['/run/bkg', '/var/lib/bkg']);
  });

  it('with a fleet database, an operator CA, a cosign key and an OTLP endpoint: each reaches the daemon', () => {
    const v = { ...values(), postgres_url_secret: { name: 'bkg-db', key: 'url' }, operator_ca_secret: 'bkg-ca', cosign_key_secret: 'bkg-cosign', otel_endpoint: 'http://otel-collector:4318', otel_sampling_rate: 0.1 };
    expect(validate(v), JSON.stringify(validate.errors)).toBe(true);
    const c = render(v)[0]?.spec.template.spec.containers[0] as Container;
    expect(envOf(c, 'BKG_DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'bkg-db', key: 'url' });
    expect(envOf(c, 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value).toBe('http://otel-collector:4318');
    expect(envOf(c, 'CAVE_OTEL_SAMPLING_RATE')?.value).toBe('0.1');
    expect(envOf(c, 'BKG_PEER_PORT')?.value).toBe('7443');
    expect(envOf(c, 'BKG_TLS_CA')?.value).toBe('/etc/bkg/ca/ca.crt');
    expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'operator-ca', mountPath: '/etc/bkg/ca', readOnly: true }, { name: 'cosign-key', mountPath: '/etc/bkg/cosign', readOnly: true }]));
    const vols = render(v)[0]?.spec.template.spec.volumes ?? [];
    expect(vols.find((x) => x.name === 'operator-ca')?.secret?.secretName).toBe('bkg-ca');
    expect(vols.find((x) => x.name === 'cosign-key')?.secret?.secretName).toBe('bkg-cosign');
  });

  it('every value a template names exists in values.yaml and in the schema', () => {
    const schema = JSON.parse(read(join(chart, 'values.schema.json'))) as { properties: Record<string, unknown> };
    const named = new Set<string>();
    for (const f of readdirSync(join(chart, 'templates'))) for (const m of read(join(chart, 'templates', f)).matchAll(/\.Values\.([A-Za-z_][A-Za-z0-9_]*)/g)) named.add(m[1] as string);
    expect(named.size).toBeGreaterThan(5);
    for (const n of named) {
      expect(values(), n).toHaveProperty(n);
      expect(schema.properties, n).toHaveProperty(n);
    }
  });
});

describe('systemd unit deploy/systemd/bkg.service', () => {
  const unit = read(join(root, 'deploy', 'systemd', 'bkg.service'));
  const keys = (section: string): Map<string, string[]> => {
    const m = new Map<string, string[]>();
    let current = '';
    for (const line of unit.split('\n')) {
      const s = /^\[(\w+)\]$/.exec(line.trim());
      if (s) current = s[1] as string;
      else if (current === section && /^\w+=/.test(line)) {
        const [k, ...v] = line.split('=');
        m.set(k as string, [...(m.get(k as string) ?? []), v.join('=')]);
      }
    }
    return m;
  };

  it('runs the daemon in the foreground with its state directory, restarts on failure, and leaves sandboxes running on stop', () => {
    const svc = keys('Service');
    expect(svc.get('ExecStart')?.[0]).toMatch(/\/bkg daemon start --foreground$/);
    expect(svc.get('Type')).toEqual(['simple']);
    expect(svc.get('StateDirectory')).toEqual(['bkg']);
    expect(svc.get('Environment')).toContain('BKG_HOME=/var/lib/bkg');
    expect(svc.get('Restart')).toEqual(['on-failure']);
    expect(svc.get('KillMode')).toEqual(['process']);
    expect(svc.get('NoNewPrivileges')).toEqual(['yes']);
    expect(svc.get('ProtectControlGroups')).toBeUndefined(); // bkg writes /sys/fs/cgroup/bkg
    expect(keys('Install').get('WantedBy')).toEqual(['multi-user.target']);
  });

  const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
  it.skipIf(!analyze && process.env.CI !== 'true')('passes systemd-analyze verify (and a misspelt key would not)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bkg-unit-'));
    try {
      const check = (text: string): string => {
        writeFileSync(join(dir, 'bkg.service'), text.replace('/usr/bin/bkg', join(root, 'bin', 'run.js')));
        const r = spawnSync('systemd-analyze', ['verify', join(dir, 'bkg.service')], { encoding: 'utf8' });
        return `${r.stdout}${r.stderr}`.trim() + (r.status === 0 ? '' : `\nexit ${r.status}`);
      };
      expect(check(unit)).toBe('');
      expect(check(unit.replace('KillMode=', 'KillMod='))).toMatch(/Unknown key 'KillMod'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('container image deploy/container/Containerfile', () => {
  const lines = read(join(root, 'deploy', 'container', 'Containerfile')).replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const KNOWN = ['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL'];

  it('uses only known instructions; builds in one stage and runs `bkg daemon start --foreground` from the packed package in another', () => {
    const ins = lines.map((l) => l.trim().split(/\s+/)[0] as string);
    for (const i of ins) expect(KNOWN, i).toContain(i);
    const stages = lines.filter((l) => l.startsWith('FROM '));
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/ AS build$/);
    expect(lines.some((l) => /^COPY --from=build /.test(l))).toBe(true);
    expect(lines.some((l) => /npm ci\b/.test(l) && /npm pack\b/.test(l))).toBe(true);
    const entry = lines.find((l) => l.startsWith('ENTRYPOINT '));
    expect(JSON.parse(entry?.slice('ENTRYPOINT '.length) ?? 'null')).toEqual(['/usr/bin/tini', '--', 'bkg', 'daemon', 'start', '--foreground']);
    expect(lines.find((l) => l.startsWith('ENV '))).toMatch(/BKG_HOME=\/var\/lib\/bkg/);
    expect(lines.find((l) => l.startsWith('VOLUME '))).toContain('/var/lib/bkg');
    expect(lines.find((l) => l.startsWith('HEALTHCHECK '))).toContain('/healthz');
  });

  it('its ignore file keeps build output and node_modules out of the context', () => {
    const ignored = read(join(root, 'deploy', 'container', 'Containerfile.dockerignore')).split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'helper/build', '.git']));
  });
});

