/* bkg-helper: the monitor's shared pieces — the outcome of a sandboxed command, its JSON report,
   termination signals. Used by a sandbox run (main.c) and by an exec into a running sandbox (exec.c). */
#ifndef BKG_MONITOR_H
#define BKG_MONITOR_H

#include "spec.h"
#include "util.h"

struct outcome {
  int status_fd;        /* where status lines go */
  int status;          /* wait status of the command, valid when have_status */
  int have_status, ready, timed_out, killed_by;
  int scratch_fd;
  int egress_fd; /* the egress socket (run with --egress-port), held for the sandbox's life */
  int ipc_fd;    /* where the egress socket is passed (--ipc-fd), or -1 */
  int has_disk, disk_full; /* the scratch tmpfs was checked (run only), and it had no space left */
  int ready_fd; /* run only: where one byte says the sandbox is ready (its exec server waits for it), or -1 */
};

double now_ms(void);
/* Block SIGTERM/SIGINT/SIGHUP into a signalfd; optionally receive SIGTERM when the parent dies. */
int block_signals(int die_with_parent, int *sigfd, struct fail *f);
/* Emit the "exited" line (with the spec's --report files, and "disk_full" when has_disk) and return
   the helper's exit code. */
int report_exit(int status_fd, const struct spec *s, const struct outcome *oc, double ms);

#endif
