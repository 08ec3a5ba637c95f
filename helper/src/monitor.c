/* bkg-helper: the monitor's shared pieces (see monitor.h). */
#define _GNU_SOURCE
#include "monitor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup.h"

double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int block_signals(int die_with_parent, int *sigfd, struct fail *f) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return fail_set(f, "monitor", errno, "sigprocmask");
  *sigfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (*sigfd < 0) return fail_set(f, "monitor", errno, "signalfd");
  if (die_with_parent && prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
    return fail_set(f, "monitor", errno, "PR_SET_PDEATHSIG");
  return 0;
}

int report_exit(int status_fd, const struct spec *s, const struct outcome *oc, double ms) {
  struct buf b = {0};
  int code = -1, sig = -1;
  if (oc->have_status && !oc->timed_out && !oc->killed_by) {
    if (WIFEXITED(oc->status)) code = WEXITSTATUS(oc->status);
    else if (WIFSIGNALED(oc->status)) sig = WTERMSIG(oc->status);
  } else {
    sig = SIGKILL;
  }
  int rc = buf_puts(&b, "{\"type\":\"exited\",\"exit_code\":");
  rc = rc ? rc : code >= 0 ? buf_printf(&b, "%d", code) : buf_puts(&b, "null");
  rc = rc ? rc : buf_puts(&b, ",\"signal\":");
  rc = rc ? rc : sig >= 0 ? buf_printf(&b, "%d", sig) : buf_puts(&b, "null");
  rc = rc ? rc
          : buf_printf(&b, ",\"timed_out\":%s,\"killed_by\":%d,\"duration_ms\":%.3f", oc->timed_out ? "true" : "false",
                       oc->killed_by, ms);
  rc = rc ? rc : oc->scratch_fd >= 0 ? buf_printf(&b, ",\"scratch_fd\":%d", oc->scratch_fd) : 0;
  rc = rc ? rc : oc->has_disk ? buf_printf(&b, ",\"disk_full\":%s", oc->disk_full ? "true" : "false") : 0;
  rc = rc ? rc : cgroups_report(s, &b);
  rc = rc ? rc : buf_puts(&b, "}");
  rc = rc ? rc : status_line(status_fd, &b);
  buf_free(&b);
  return code >= 0 ? code : 128 + sig;
}
