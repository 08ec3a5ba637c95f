/**
 * Which host ids a sandbox's ids are. As root, every sandbox claims its own range of 65,536 ids
 * from a pool far above the ranges /etc/subuid hands to users (the helper takes a lock per range
 * for the sandbox's life, so two sandboxes never share one, whichever daemon or `run --rm` started
 * them). As an ordinary user, a sandbox's root is the user's own id, and its other ids the user's
 * subordinate range when /etc/subuid and /etc/subgid grant one and the setuid newuidmap/newgidmap
 * tools exist to write it; otherwise the sandbox has that one id.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';

export interface IdMap {
  inside: number;
  outside: number;
  count: number;
}

/** Ranges of `count` ids from `start`, slot k at start + k × count, claimed under `dir`. */
export interface IdPool {
  dir: string;
  start: number;
  slots: number;
  count: number;
}

export interface Identity {
  /** As root: each sandbox claims a range from this pool. */
  pool?: IdPool;
  /** As an ordinary user: the maps every sandbox gets (the user's id, then a subordinate range). */
  uidMaps: IdMap[];
  gidMaps: IdMap[];
  /** The setuid tools that write subordinate maps (absent: the maps are the user's own ids only). */
  newIdMap?: { uid: string; gid: string };
  /** Why the user has no subordinate range (for doctor), when they have none. */
  subordinateMissing?: string;
}

export const RANGE_SIZE = 65_536;
/** 2^30: above SUB_UID_MAX of login.defs (600,100,000) and any range useradd allocates. */
export const POOL_START = 1 << 30;
export const POOL_SLOTS = Math.floor((0xffff_fffe - POOL_START) / RANGE_SIZE);
export const DEFAULT_POOL_DIR = '/run/bkg/ids';
const NEWUIDMAP = '/usr/bin/newuidmap';
const NEWGIDMAP = '/usr/bin/newgidmap';

export interface IdentityProbe {
  uid: number;
  gid: number;
  user?: string;
  poolDir?: string;
  readText?: (path: string) => string | null;
  /** Whether path is a setuid-root executable. */
  setuidRoot?: (path: string) => boolean;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function setuidRoot(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() && st.uid === 0 && (st.mode & 0o4000) !== 0;
  } catch {
    return false;
  }
}

/** The first range /etc/subuid (or subgid) grants `user` or `id`: [start, count], or null. */
export function subordinateRange(text: string | null, user: string | undefined, id: number): [number, number] | null {
  for (const line of (text ?? '').split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if (!who || (who !== user && who !== String(id)) || !/^\d+$/.test(start ?? '') || !/^\d+$/.test(count ?? '')) continue;
    if (Number(count) > 0) return [Number(start), Number(count)];
  }
  return null;
}

export function detectIdentity(p: IdentityProbe): Identity {
  if (p.uid === 0) {
    const dir = p.poolDir ?? DEFAULT_POOL_DIR;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch {
      /* the helper's claim then fails with the reason */
    }
    return { pool: { dir, start: POOL_START, slots: POOL_SLOTS, count: RANGE_SIZE }, uidMaps: [], gidMaps: [] };
  }
  const own: Identity = { uidMaps: [{ inside: 0, outside: p.uid, count: 1 }], gidMaps: [{ inside: 0, outside: p.gid, count: 1 }] };
  const read = p.readText ?? readText;
  const isSetuid = p.setuidRoot ?? setuidRoot;
  let user = p.user;
  if (user === undefined) {
    try {
      user = userInfo().username;
    } catch {
      /* no passwd entry: only a numeric /etc/subuid line can match */
    }
  }
  const subUid = subordinateRange(read('/etc/subuid'), user, p.uid);
  const subGid = subordinateRange(read('/etc/subgid'), user, p.uid);
  if (!subUid || !subGid) return { ...own, subordinateMissing: `no subordinate ${!subUid ? 'uid' : 'gid'} range for ${user ?? p.uid} in /etc/sub${!subUid ? 'uid' : 'gid'}` };
  if (!isSetuid(NEWUIDMAP) || !isSetuid(NEWGIDMAP)) return { ...own, subordinateMissing: `${NEWUIDMAP} and ${NEWGIDMAP} (setuid root, Debian/Ubuntu package uidmap) are needed to use the subordinate ranges` };
  const extra = (range: [number, number]): IdMap => ({ inside: 1, outside: range[0], count: Math.min(range[1], RANGE_SIZE - 1) });
  return {
    uidMaps: [...own.uidMaps, extra(subUid)],
    gidMaps: [...own.gidMaps, extra(subGid)],
    newIdMap: { uid: NEWUIDMAP, gid: NEWGIDMAP },
  };
}

/** In words, for doctor and logs. */
export function describeIdentity(id: Identity): string {
  if (id.pool) {
    const last = id.pool.start + id.pool.slots * id.pool.count - 1;
    return `running as root: each sandbox claims its own range of ${id.pool.count} host ids in ${id.pool.start}..${last} (locks in ${id.pool.dir})`;
  }
  const [own, sub] = id.uidMaps;
  if (sub) return `running unprivileged: sandbox uid 0 is your uid ${own?.outside}, uids 1..${sub.count} your subordinate ids ${sub.outside}..${sub.outside + sub.count - 1} (through ${id.newIdMap?.uid})`;
  return `running unprivileged: sandbox uid 0 is your uid ${own?.outside} and it has no other ids (${id.subordinateMissing ?? 'no subordinate range'})`;
}
