/* bkg-helper: run one command inside a running (persistent) sandbox. */
#ifndef BKG_EXEC_H
#define BKG_EXEC_H

#include <sys/types.h>
#include "sandbox.h"
#include "spec.h"
#include "util.h"

/* Join the namespaces, root and cgroups (--cgroup dirs, which must exist) of the sandbox whose
   init is `target`, run the spec's command there and report "exited". Returns the helper's exit
   code, or -1 with f set when the command could not be started. With --pty the command gets a
   terminal, relayed to our stdin/stdout. control_fd (or -1), with or without a terminal, carries
   "resize ROWS COLS" (terminal only) and "signal N" lines (N sent to the command's process group
   and the command; the exit then reports what the command made of it); at EOF it is ignored. */
int exec_into(const struct spec *s, pid_t target, int status_fd, int control_fd, const struct seccomp_prog *prog, struct fail *f);

/* The pieces an exec server shares: join the sandbox whose init is `target` (namespaces and root;
   not yet its root user: sandbox_become_root), a terminal pair inside it and the command's side of
   it, and control lines ("resize ROWS COLS", "signal N") fed in as they arrive. */
int exec_join(pid_t target, struct fail *f);
int exec_open_pty(const struct spec *s, char *slave, size_t n, struct fail *f);
int exec_attach_pty(const char *slave, struct fail *f);
struct exec_control {
  pid_t cmd;
  int master; /* the terminal's master, or -1 */
  char line[64];
  size_t line_len;
};
void exec_control(struct exec_control *c, const char *buf, size_t n);

#endif
