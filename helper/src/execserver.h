/* bkg-helper: the exec server of a persistent sandbox's supervisor. Instead of a new helper process
   per command, the caller connects to a unix socket the supervisor listens on and sends the exec
   spec and seccomp program. The process that accepts it (a spare of the server, forked ahead, that
   joined the sandbox's namespaces and root while it waited) forks the command as `--exec-into`
   would run it (the same spec, cgroups, seccomp and rights), relays its streams as frames, carries
   out control lines, enforces the deadline and reports the exit: one fork per exec.

   Frames, both ways: one type byte, a 32-bit big-endian length, the payload.
     caller -> server: 'R' request (u32 spec length, the spec's NUL-terminated tokens, the seccomp
                       program), then 'I' stdin bytes, 'E' end of stdin, 'C' a control line
                       ("signal N", "resize ROWS COLS"), 'K' end the command (as SIGTERM to a helper)
     server -> caller: 'A' the request is taken and the command is about to be forked (before it,
                       nothing has run: a connection that closes without 'A' may be retried by a
                       spawned helper), '1' stdout, '2' stderr, 'S' status JSON lines, 'X' the exec's
                       exit code (u32), after which the server closes the connection.
   A change to these frames renames the socket (see the daemon's sandbox definitions), so a caller
   never speaks the new protocol to an older supervisor that is still running. */
#ifndef BKG_EXECSERVER_H
#define BKG_EXECSERVER_H

#include <sys/types.h>
#include "spec.h"
#include "util.h"

/* Listen at path (replacing a stale socket there), owner-only. Returns the descriptor or -1. */
int execserver_listen(const char *path, struct fail *f);

/* Fork the server: it joins the sandbox's cgroups (so the processes of every exec are born there),
   waits until the sandbox is ready (a byte on ready_fd, a pipe from the supervisor: an exec's
   process joins the sandbox's root, so not before init has built it), then serves each
   connection on listen_fd in a process of its own, for as long as the supervisor lives. Returns its
   pid, or -1 with f set. */
pid_t execserver_start(const struct spec *s, int listen_fd, pid_t init, int ready_fd, struct fail *f);

#endif
