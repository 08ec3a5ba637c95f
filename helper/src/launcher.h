/* bkg-helper --launcher PATH: starts sandbox supervisors for a daemon, so that the daemon never forks
   itself for one (a fork copies the page tables of the whole daemon, more the more it holds; this
   process is a few hundred KiB).

   It listens on PATH (owner-only, as exec servers do), says {"type":"listening"} on stdout, and for
   each connection reads one request: a u32 big-endian length and a spec (NUL-terminated tokens,
   what `--args` reads). It forks and, in the child, execs itself as
   `bkg-helper --args 3 --json-status-fd 4` in a session of its own, with an empty environment, the
   spec on descriptor 3 (a memfd) and the connection as descriptor 4: the supervisor's status lines
   go straight to the caller, after a first line of the child's, {"type":"spawned","pid":N}. A child
   that cannot get that far says {"type":"error",...} instead. The launcher ends with its parent. */
#ifndef BKG_LAUNCHER_H
#define BKG_LAUNCHER_H

int launcher_main(const char *path);

#endif
