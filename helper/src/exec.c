/* bkg-helper: exec into a running sandbox. The monitor (us) stays in the host's namespaces to
   join cgroups and enforce the deadline; a child joins the sandbox's namespaces and root, and
   forks the command so that it lands inside the sandbox's pid namespace. */
#define _GNU_SOURCE
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "monitor.h"

#define ALL_NS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWPID)

/* Open a terminal pair inside the sandbox (its own devpts); *slave gets the slave's path. */
int exec_open_pty(const struct spec *s, char *slave, size_t n, struct fail *f) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return fail_set(f, "pty", errno, "open /dev/ptmx");
  struct winsize ws = {.ws_row = s->pty_rows, .ws_col = s->pty_cols};
  if (unlockpt(master) < 0 || ptsname_r(master, slave, n) != 0 || ioctl(master, TIOCSWINSZ, &ws) < 0) {
    (void)close(master);
    return fail_set(f, "pty", errno, "set up the terminal");
  }
  return master;
}

/* The command's side of a terminal: its own session, the slave as controlling terminal and stdio. */
int exec_attach_pty(const char *slave, struct fail *f) {
  if (setsid() < 0) return fail_set(f, "pty", errno, "setsid");
  int fd = open(slave, O_RDWR);
  if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0) return fail_set(f, "pty", errno, "open %s", slave);
  for (int i = 0; i < 3; i++)
    if (dup2(fd, i) < 0) return fail_set(f, "pty", errno, "dup2");
  return fd > 2 ? close(fd) : 0;
}

/* Into the namespaces (pidfd target_fd) and the root (root_fd, its /proc/PID/root) of the sandbox. */
static int enter(int target_fd, int root_fd, struct fail *f) {
  if (setns(target_fd, ALL_NS) < 0) return fail_set(f, "namespaces", errno, "join the sandbox's namespaces");
  if (fchdir(root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0) return fail_set(f, "namespaces", errno, "enter the sandbox's root");
  return 0;
}

/* The descriptors enter() needs, opened while we still see the host's /proc. */
static int open_target(pid_t target, int *target_fd, int *root_fd, struct fail *f) {
  char root[64];
  snprintf(root, sizeof root, "/proc/%d/root", (int)target);
  *target_fd = (int)syscall(SYS_pidfd_open, target, 0);
  *root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*target_fd < 0 || *root_fd < 0) return fail_set(f, "namespaces", errno, "sandbox init %d is not running", (int)target);
  return 0;
}

int exec_join(pid_t target, struct fail *f) {
  int target_fd = -1, root_fd = -1;
  int rc = open_target(target, &target_fd, &root_fd, f);
  if (rc == 0) rc = enter(target_fd, root_fd, f);
  if (target_fd >= 0) (void)close(target_fd);
  if (root_fd >= 0) (void)close(root_fd);
  return rc;
}

/* info channel, child -> monitor: MSG_READY with the command's host pid (and the pty master), then
   MSG_STATUS with its wait status */
__attribute__((noreturn)) static void joiner(const struct spec *s, int target_fd, int root_fd, int go, int info,
                                              int status_fd, const struct seccomp_prog *prog) {
  struct fail f = {0};
  char c, slave[64];
  int master = -1;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || read(go, &c, 1) != 1) _exit(BKG_SETUP_FAILED);
  if (enter(target_fd, root_fd, &f) == 0 && sandbox_become_root(s, &f) == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0 &&
           (!s->pty_rows || (master = exec_open_pty(s, slave, sizeof slave, &f)) >= 0)) {
    pid_t cmd = fork();
    if (cmd < 0) fail_set(&f, "exec", errno, "fork");
    else if (cmd == 0) {
      (void)close(info);
      if (master >= 0 && exec_attach_pty(slave, &f) < 0) {
        report_fail(status_fd, &f);
        _exit(BKG_SETUP_FAILED);
      }
      sandbox_exec_command(s, status_fd, prog);
    } else {
      int st = 0;
      if (send_msg(info, MSG_READY, &cmd, sizeof cmd, &master, master >= 0) < 0) (void)kill(cmd, SIGKILL);
      if (master >= 0) (void)close(master);
      while (waitpid(cmd, &st, 0) < 0 && errno == EINTR) {
      }
      (void)send_msg(info, MSG_STATUS, &st, sizeof st, NULL, 0);
      _exit(0);
    }
  }
  report_fail(status_fd, &f);
  _exit(BKG_SETUP_FAILED);
}

/* Receive one message of `type` carrying an int; an optional descriptor goes to *fd. */
static int recv_int(int sock, char type, int *v, int *fd) {
  char msg[16];
  int fds[MAX_MSG_FDS];
  size_t nfds = 0;
  ssize_t n = recv_msg(sock, msg, sizeof msg, fds, &nfds);
  for (size_t i = fd ? 1 : 0; i < nfds; i++) (void)close(fds[i]);
  if (fd) *fd = nfds ? fds[0] : -1;
  if (n != (ssize_t)(1 + sizeof *v) || msg[0] != type) return -1;
  memcpy(v, msg + 1, sizeof *v);
  return 0;
}

/* Terminal relay: our stdin to the master, the master to our stdout. The control descriptor
   (with or without a terminal) carries lines: "resize ROWS COLS" sets the terminal's window size,
   "signal N" sends signal N (1..64) to the command's process group and to the command. */
struct relay {
  int master, in_open, control;
  struct exec_control ctl;
};

static void relay_copy(int from, int to) {
  char buf[16384];
  ssize_t n = read(from, buf, sizeof buf);
  if (n > 0) (void)write_all(to, buf, (size_t)n);
}

static void relay_control(struct relay *r) {
  char buf[256];
  ssize_t n = read(r->control, buf, sizeof buf);
  if (n <= 0) {
    r->control = -1;
    return;
  }
  exec_control(&r->ctl, buf, (size_t)n);
}

void exec_control(struct exec_control *c, const char *buf, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (buf[i] != '\n') {
      if (c->line_len < sizeof c->line - 1) c->line[c->line_len++] = buf[i];
      continue;
    }
    c->line[c->line_len] = '\0';
    c->line_len = 0;
    unsigned rows, cols, sig;
    char end;
    if (sscanf(c->line, "resize %u %u", &rows, &cols) == 2 && rows && cols && rows < 10000 && cols < 10000) {
      struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
      if (c->master >= 0) (void)ioctl(c->master, TIOCSWINSZ, &ws);
    } else if (sscanf(c->line, "signal %u%c", &sig, &end) == 1 && sig >= 1 && sig <= 64 && c->cmd > 0) {
      /* the command leads its own session and decides what the signal means; we keep waiting.
         Once: a second kill would deliver the signal twice to a command whose handler already ran.
         The command alone only while it has not yet made its own group. */
      if (kill(-c->cmd, (int)sig) < 0) (void)kill(c->cmd, (int)sig);
    }
  }
}

static void relay_drain(int master) {
  int fl = fcntl(master, F_GETFL);
  if (fl >= 0) (void)fcntl(master, F_SETFL, fl | O_NONBLOCK);
  char buf[16384];
  ssize_t n;
  while ((n = read(master, buf, sizeof buf)) > 0) (void)write_all(1, buf, (size_t)n);
}

int exec_into(const struct spec *s, pid_t target, int status_fd, int control_fd, const struct seccomp_prog *prog, struct fail *f) {
  struct outcome oc = {.status_fd = status_fd, .scratch_fd = -1, .egress_fd = -1, .ipc_fd = -1};
  int sigfd = -1, go[2] = {-1, -1}, info[2] = {-1, -1}, rc = -1;
  double t0 = now_ms();
  pid_t child = -1, cmd = -1;
  int target_fd = -1, root_fd = -1;
  if (open_target(target, &target_fd, &root_fd, f)) goto out;
  if (block_signals(s->die_with_parent, &sigfd, f)) goto out;
  if (pipe2(go, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, info) < 0) {
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
  struct relay relay = {.master = -1, .in_open = 1, .control = control_fd, .ctl = {.cmd = -1, .master = -1}};
  if (recv_int(info[0], MSG_READY, &cmd, &relay.master) < 0) {
    f->stage = NULL; /* the joiner reported why on the status descriptor */
    goto out;
  }
  relay.ctl.cmd = cmd;
  relay.ctl.master = relay.master;
  {
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    if (pidfd < 0) {
      fail_set(f, "monitor", errno, "pidfd_open");
      goto out;
    }
    double deadline = s->timeout_ms ? now_ms() + (double)s->timeout_ms : 0;
    struct pollfd p[5] = {{pidfd, POLLIN, 0}, {sigfd, POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
    for (;;) {
      int wait_ms = -1;
      if (deadline) {
        double left = deadline - now_ms();
        wait_ms = left <= 0 ? 0 : (int)left + 1;
      }
      p[2].fd = relay.master;
      p[3].fd = relay.master >= 0 && relay.in_open ? 0 : -1;
      p[4].fd = relay.control;
      int r = poll(p, 5, wait_ms);
      if (r > 0 && (p[2].revents & POLLIN)) relay_copy(relay.master, 1);
      if (r > 0 && (p[3].revents & (POLLIN | POLLHUP))) {
        char buf[16384];
        ssize_t n = read(0, buf, sizeof buf);
        if (n > 0) (void)write_all(relay.master, buf, (size_t)n);
        else relay.in_open = 0;
      }
      if (r > 0 && (p[4].revents & (POLLIN | POLLHUP))) relay_control(&relay);
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
  if (relay.master >= 0) {
    relay_drain(relay.master);
    (void)close(relay.master);
  }
  oc.have_status = recv_int(info[0], MSG_STATUS, &oc.status, NULL) == 0;
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
