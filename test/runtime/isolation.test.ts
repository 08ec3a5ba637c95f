/** Real sandboxes through the real helper, proving isolation from the inside. */
import { mkdtempSync, readdirSync, statSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSandboxId } from '../../src/runtime/definition.js';
import { withDefaults } from '../../src/runtime/limits.js';
import { makeRuntime, py, sandboxSkipReason, sh } from '../helpers/sandbox.js';

const skip = sandboxSkipReason();
const { runtime } = makeRuntime();

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out[`${r}/`] = 'dir';
        walk(p, r);
      } else out[r] = readFileSync(p, 'utf8');
    }
  };
  walk(dir, '');
  return out;
}

describe.skipIf(skip)('sandbox filesystem', () => {
  it('hides /etc/shadow, /root and /home of the host (/root is the sandbox\'s own empty HOME)', async () => {
    const r = await sh(runtime, 'for p in /etc/shadow /etc/gshadow /home; do if [ -e "$p" ]; then echo "VISIBLE $p"; else echo "absent $p"; fi; done; echo "home=$HOME entries=$(ls -A /root | wc -l) mode=$(stat -c %a /root)"; id -u');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('VISIBLE');
    expect(r.stdout).toContain('absent /etc/shadow');
    expect(r.stdout).toContain('home=/root entries=0 mode=700');
    expect(r.stdout.trim().split('\n').at(-1)).toBe('0');
  });

  it('keeps tools working as on the host (awk, python3, /etc/passwd lookups)', async () => {
    const r = await sh(runtime, 'awk "BEGIN { print 6*7 }"; python3 -c "print(sum(range(10)))"; whoami');
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').slice(0, 3)).toEqual(['42', '45', 'root']);
  });

  it('starts the command with no signal ignored or blocked, as a shell would (a closed pipe ends `yes` quietly)', async () => {
    const r = await sh(runtime, 'yes | head -1; grep -E "^Sig(Ign|Blk)" /proc/self/status');
    expect(r.stderr).toBe(''); // with SIGPIPE ignored, yes says "standard output: Broken pipe"
    expect(r.stdout).toBe('y\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('refuses writes outside /workspace and /tmp, and /tmp never reaches the host', async () => {
    const marker = `bkg-test-${process.pid}-${Date.now()}`;
    const r = await sh(
      runtime,
      `for p in /usr/${marker} /etc/${marker} /${marker} /bin/${marker}; do if echo x > "$p" 2>/dev/null; then echo "WROTE $p"; else echo "refused $p"; fi; done; echo hi > /tmp/${marker} && cat /tmp/${marker}`,
    );
    expect(r.stdout).not.toContain('WROTE');
    expect(r.stdout.match(/refused/g)).toHaveLength(4);
    expect(r.stdout).toContain('hi');
    expect(existsSync(`/tmp/${marker}`)).toBe(false);
  });

  describe('workspace overlay', () => {
    let ws: string;
    beforeAll(() => {
      ws = mkdtempSync(join(tmpdir(), 'bkg-ws-'));
      chmodSync(ws, 0o755);
      writeFileSync(join(ws, 'keep.txt'), 'original\n');
      writeFileSync(join(ws, 'edit.txt'), 'v1\n');
      writeFileSync(join(ws, 'remove.txt'), 'bye\n');
      mkdirSync(join(ws, 'dir'));
      writeFileSync(join(ws, 'dir', 'inner.txt'), 'inner\n');
    });
    afterAll(() => rmSync(ws, { recursive: true, force: true }));

    it('leaves the host directory unchanged and lists every change', async () => {
      const before = snapshot(ws);
      const r = await sh(runtime, 'cd /workspace && cat keep.txt && echo v2 >> edit.txt && rm remove.txt && echo new > added.txt && mkdir -p newdir && echo x > newdir/x && rm -r dir', { workspace: ws });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('original\n');
      expect(snapshot(ws)).toEqual(before);
      expect(r.changes).toEqual([
        { path: 'added.txt', kind: 'added', type: 'file' },
        { path: 'dir', kind: 'deleted', type: 'dir' },
        { path: 'edit.txt', kind: 'modified', type: 'file' },
        { path: 'newdir', kind: 'added', type: 'dir' },
        { path: 'newdir/x', kind: 'added', type: 'file' },
        { path: 'remove.txt', kind: 'deleted', type: 'file' },
      ]);
    });

    it('applies changes back to the host directory when asked', async () => {
      const copy = mkdtempSync(join(tmpdir(), 'bkg-apply-'));
      try {
        chmodSync(copy, 0o755);
        writeFileSync(join(copy, 'a.txt'), 'a\n');
        writeFileSync(join(copy, 'gone.txt'), 'x\n');
        const r = await sh(runtime, 'cd /workspace && echo b >> a.txt && rm gone.txt && mkdir sub && echo c > sub/c.txt && ln -s a.txt link && cp /bin/true suid && chmod 6755 suid', { workspace: copy, run: { apply: true } });
        expect(r.exitCode).toBe(0);
        expect(r.applied).toBe(true);
        const { suid: _binary, ...text } = snapshot(copy);
        expect(text).toEqual({ 'a.txt': 'a\nb\n', 'sub/': 'dir', 'sub/c.txt': 'c\n', link: 'a\nb\n' });
        expect(statSync(join(copy, 'suid')).mode & 0o7777).toBe(0o755); // setuid/setgid never reach the host
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    });

    it('sees workspace files with their owners shifted into the sandbox', async () => {
      const r = await sh(runtime, 'stat -c "%u %a" /workspace/keep.txt && echo more >> /workspace/keep.txt && echo ok', { workspace: ws });
      expect(r.stdout).toContain('ok');
      expect(r.stdout.split('\n')[0]).toBe(`${process.getuid?.() ?? 0} 644`);
    });
  });
});

describe.skipIf(skip)('an empty workspace without a host directory', () => {
  it('is the working directory: writable, root\'s, 0755, empty in every new sandbox', async () => {
    const r = await sh(runtime, 'pwd; stat -c "%a %u" /workspace; ls -A | wc -l; mkdir -p sub && echo hi > sub/f && cat /workspace/sub/f && echo "print(6*7)" > main.py && python3 main.py');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/workspace\n755 0\n0\nhi\n42\n');
    expect(r.changes).toEqual([]); // a throwaway sandbox without a host directory has nowhere to apply changes: none are listed
    expect((await sh(runtime, 'ls -A /workspace | wc -l')).stdout).toBe('0\n'); // the last sandbox's files went with it
  });

  it('yields to an explicit working directory', async () => {
    const out: Buffer[] = [];
    const r = await runtime.run({ id: newSandboxId(), argv: ['pwd'], cwd: '/tmp', limits: withDefaults({}), network: 'none' }, { stdio: ['ignore', 'pipe', 'ignore'], onStdout: (c) => out.push(c) });
    expect(r.exitCode).toBe(0);
    expect(Buffer.concat(out).toString()).toBe('/tmp\n');
  });
});

describe.skipIf(skip)('sandbox kernel surface', () => {
  it('denies mount, ptrace, bpf, io_uring_setup, keyctl and unshare(CLONE_NEWUSER)', async () => {
    const code = `
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    return 0 if r >= 0 else ctypes.get_errno()
tmp = ctypes.c_char_p(b"/tmp")
res = {
  "mount": libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0 or ctypes.get_errno(),
  "ptrace": call(101, 16, 1, 0, 0),
  "bpf": call(321, 0, 0, 0),
  "io_uring_setup": call(425, 1, 0),
  "keyctl": call(250, 0, 0, 0, 0, 0),
  "add_key": call(248, 0, 0, 0, 0, 0),
  "unshare_user": call(272, 0x10000000),
  "unshare_ns": call(272, 0x00020000),
  "perf_event_open": call(298, 0, 0, -1, -1, 0),
}
print(json.dumps(res))
`;
    const r = await py(runtime, code);
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout) as Record<string, number | boolean>;
    for (const [name, errno] of Object.entries(res)) {
      expect.soft(errno, name).not.toBe(0);
      expect.soft(errno, name).not.toBe(true);
    }
    expect(res.unshare_user).toBe(1); // EPERM from the seccomp filter
    expect(res.mount).toBe(1);
  });

  it('has only the loopback interface and cannot reach a port on the host loopback', async () => {
    const server: Server = createServer((s) => s.end('host-secret\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await py(
        runtime,
        `
import socket
print(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]))
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", ${port})); print("CONNECTED", s.recv(100))
except OSError as e:
    print("refused", e.errno)
`,
      );
      expect(r.stdout).toContain("['lo']");
      expect(r.stdout).toContain('refused');
      expect(r.stdout).not.toContain('CONNECTED');
      const open = await sh(runtime, `python3 -c "import socket; s=socket.create_connection(('127.0.0.1', ${port}), 2); print(s.recv(100).decode())"`, { network: 'host' });
      expect(open.stdout).toContain('host-secret'); // the explicit opt-in does reach it
    } finally {
      server.close();
    }
  });

  it('can neither see nor signal host processes', async () => {
    const r = await py(
      runtime,
      `
import os
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
print(pids)
try:
    os.kill(${process.pid}, 0); print("SIGNALLED")
except ProcessLookupError:
    print("no such process")
`,
    );
    const pids = JSON.parse(r.stdout.split('\n')[0] ?? '[]') as number[];
    expect(Math.max(...pids)).toBeLessThan(10);
    expect(pids).not.toContain(process.pid);
    expect(r.stdout).toContain('no such process');
  });
});
