/* bkg-helper: exec into a running sandbox. The monitor (us) stays in the host's namespaces to
   join cgroups and enforce the deadline; a child joins the sandbox's namespaces and root, and
   forks the command so that it lands inside the sandbox's pid namespace. */
#define _GNU_SOURCE
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "monitor.h"

#define ALL_NS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWPID)

/* info channel, child -> monitor: the command's host pid, then its wait status */
__attribute__((noreturn)) static void joiner(const struct spec *s, int target_fd, int root_fd, int go, int info,
                                              int status_fd, const struct seccomp_prog *prog) {
  struct fail f = {0};
  char c;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || read(go, &c, 1) != 1) _exit(BKG_SETUP_FAILED);
  if (setns(target_fd, ALL_NS) < 0) fail_set(&f, "namespaces", errno, "join the sandbox's namespaces");
  else if (fchdir(root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0) fail_set(&f, "namespaces", errno, "enter the sandbox's root");
  else if (sandbox_become_root(s, &f) == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0) {
    pid_t cmd = fork();
    if (cmd < 0) fail_set(&f, "exec", errno, "fork");
    else if (cmd == 0) {
      (void)close(info);
      sandbox_exec_command(s, status_fd, prog);
    } else {
      int st = 0;
      if (write_all(info, &cmd, sizeof cmd) < 0) (void)kill(cmd, SIGKILL);
      while (waitpid(cmd, &st, 0) < 0 && errno == EINTR) {
      }
      (void)write_all(info, &st, sizeof st);
      _exit(0);
    }
  }
  report_fail(status_fd, &f);
  _exit(BKG_SETUP_FAILED);
}

static int read_int(int fd, int *v) {
  ssize_t n;
  do n = read(fd, v, sizeof *v);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof *v ? 0 : -1;
}

int exec_into(const struct spec *s, pid_t target, int status_fd, const struct seccomp_prog *prog, struct fail *f) {
  struct outcome oc = {.status_fd = status_fd, .scratch_fd = -1};
  int sigfd = -1, go[2] = {-1, -1}, info[2] = {-1, -1}, rc = -1;
  char root[64];
  double t0 = now_ms();
  pid_t child = -1, cmd = -1;
  int target_fd = (int)syscall(SYS_pidfd_open, target, 0);
  snprintf(root, sizeof root, "/proc/%d/root", (int)target);
  int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (target_fd < 0 || root_fd < 0) {
    fail_set(f, "namespaces", errno, "sandbox init %d is not running", (int)target);
    goto out;
  }
  if (block_signals(s->die_with_parent, &sigfd, f)) goto out;
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(info, O_CLOEXEC) < 0) {
    fail_set(f, "monitor", errno, "pipe");
    goto out;
  }
  child = fork();
  if (child < 0) {
    fail_set(f, "monitor", errno, "fork");
    goto out;
  }
  if (child == 0) {
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)close(go[1]);
    (void)close(info[0]);
    joiner(s, target_fd, root_fd, go[0], info[1], status_fd, prog);
  }
  (void)close(go[0]);
  (void)close(info[1]);
  go[0] = info[1] = -1;
  if (cgroups_join(s, child, f) < 0) goto out;
  if (write_all(go[1], "G", 1) < 0) {
    fail_set(f, "monitor", errno, "start exec");
    goto out;
  }
  if (read_int(info[0], &cmd) < 0) {
    f->stage = NULL; /* the joiner reported why on the status descriptor */
    goto out;
  }
  {
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    if (pidfd < 0) {
      fail_set(f, "monitor", errno, "pidfd_open");
      goto out;
    }
    double deadline = s->timeout_ms ? now_ms() + (double)s->timeout_ms : 0;
    struct pollfd p[2] = {{pidfd, POLLIN, 0}, {sigfd, POLLIN, 0}};
    for (;;) {
      int wait_ms = -1;
      if (deadline) {
        double left = deadline - now_ms();
        wait_ms = left <= 0 ? 0 : (int)left + 1;
      }
      int r = poll(p, 2, wait_ms);
      if (r < 0 && errno != EINTR) break;
      int stop = 0;
      if (r == 0 && deadline && now_ms() >= deadline) oc.timed_out = stop = 1;
      if (r > 0 && (p[1].revents & POLLIN)) {
        struct signalfd_siginfo si;
        if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) oc.killed_by = (int)si.ssi_signo;
        stop = 1;
      }
      if (stop) {
        /* the command leads its own session: end its process group, then the command itself */
        (void)kill(-cmd, SIGKILL);
        (void)kill(cmd, SIGKILL);
        deadline = 0;
      }
      if (r > 0 && (p[0].revents & POLLIN)) break;
    }
    (void)close(pidfd);
  }
  oc.have_status = read_int(info[0], &oc.status) == 0;
  oc.ready = 1;
  rc = report_exit(status_fd, s, &oc, now_ms() - t0);
out:
  if (child > 0) {
    if (rc < 0) (void)kill(child, SIGKILL);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  int fds[] = {target_fd, root_fd, sigfd, go[0], go[1], info[0], info[1]};
  for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
    if (fds[i] >= 0) (void)close(fds[i]);
  return rc;
}
