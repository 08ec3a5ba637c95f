/* bkg-helper: pid 1 of the sandbox (identity, namespaces, filesystem, reaping) and the command. */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>

#include "egress.h"
#include "mounts.h"

extern char **environ;

static int loopback_up(struct fail *f) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return fail_set(f, "network", errno, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int rc = 0;
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    rc = fail_set(f, "network", errno, "get lo flags");
  } else {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) rc = fail_set(f, "network", errno, "bring lo up");
  }
  (void)close(s);
  return rc;
}

static int set_caps(unsigned long long keep, struct fail *f) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int i = 0; i < 2; i++) data[i].effective = data[i].permitted = (unsigned)(keep >> (32 * i));
  if (syscall(SYS_capset, &hdr, data) < 0) return fail_set(f, "capabilities", errno, "capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    return fail_set(f, "capabilities", errno, "clear ambient");
  return 0;
}

static int drop_bounding(unsigned long long keep, struct fail *f) {
  for (unsigned long cap = 0; cap < 64; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      if (errno == EINVAL) break; /* past the kernel's last capability */
      return fail_set(f, "capabilities", errno, "drop capability %lu", cap);
    }
  }
  return 0;
}

/* Close every descriptor above stderr except `keep` (which may be -1 or a standard stream). */
static int close_fds_except(int keep) {
  if (keep < 3) return (int)syscall(SYS_close_range, 3, ~0U, 0);
  if (keep > 3 && syscall(SYS_close_range, 3, keep - 1, 0) < 0) return -1;
  return (int)syscall(SYS_close_range, keep + 1, ~0U, 0);
}

void sandbox_exec_command(const struct spec *s, int status_fd, const struct seccomp_prog *prog) {
  struct fail f = {0};
  /* the command starts as it would from a shell: no signal ignored (we ignore SIGPIPE, an exec
     server SIGCHLD; both would pass through execve) and none blocked */
  sigset_t none;
  sigemptyset(&none);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) (void)signal(sig, SIG_DFL);
  (void)sigprocmask(SIG_SETMASK, &none, NULL);
  if (getsid(0) != getpid() && setsid() < 0) fail_set(&f, "exec", errno, "setsid"); /* a pty child already leads one */
  else if (s->chdir && chdir(s->chdir) < 0) fail_set(&f, "exec", errno, "chdir %s", s->chdir);
  else if (drop_bounding(s->cap_keep, &f) < 0) {
  } else if ((s->uid || s->gid) &&
             (setgroups(0, NULL) < 0 || setresgid((gid_t)s->gid, (gid_t)s->gid, (gid_t)s->gid) < 0 ||
              setresuid((uid_t)s->uid, (uid_t)s->uid, (uid_t)s->uid) < 0)) {
    fail_set(&f, "exec", errno, "switch to uid %lu gid %lu", s->uid, s->gid);
  } else if (set_caps(s->uid ? 0 : s->cap_keep, &f) < 0) {
  } else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    fail_set(&f, "exec", errno, "no_new_privs");
  } else if ((status_fd > 2 && fcntl(status_fd, F_SETFD, FD_CLOEXEC) < 0) || close_fds_except(status_fd) < 0) {
    fail_set(&f, "exec", errno, "close descriptors");
  } else {
    if (prog->len) {
      struct sock_fprog fp = {(unsigned short)(prog->len / sizeof(struct sock_filter)),
                              (struct sock_filter *)prog->data};
      if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0) {
        fail_set(&f, "seccomp", errno, "load filter");
        report_fail(status_fd, &f);
        _exit(BKG_SETUP_FAILED);
      }
    }
    environ = (char **)s->env;
    execvp(s->argv[0], s->argv);
    fail_set(&f, "exec", errno, "%s", s->argv[0]);
    report_fail(status_fd, &f);
    _exit(errno == ENOENT ? 127 : 126);
  }
  report_fail(status_fd, &f);
  _exit(BKG_SETUP_FAILED);
}

int sandbox_become_root(const struct spec *s, struct fail *f) {
  if (!s->setgroups_deny && setgroups(0, NULL) < 0) return fail_set(f, "identity", errno, "setgroups");
  if (setresgid(0, 0, 0) < 0) return fail_set(f, "identity", errno, "setresgid");
  if (setresuid(0, 0, 0) < 0) return fail_set(f, "identity", errno, "setresuid");
  return 0;
}

static int prepare(const struct spec *s, const int *trees, int *scratch_fd, int *egress_fd, struct fail *f) {
  if (sandbox_become_root(s, f)) return -1;
  /* A credential change clears the parent-death signal: arm it again. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return fail_set(f, "identity", errno, "PR_SET_PDEATHSIG");
  if (unshare(CLONE_NEWCGROUP) < 0) return fail_set(f, "namespaces", errno, "cgroup namespace");
  if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
    return fail_set(f, "namespaces", errno, "sethostname");
  if (!s->share_net && loopback_up(f)) return -1;
  if (s->egress_port && (*egress_fd = egress_listen(s->egress_port, f)) < 0) return -1;
  return build_root(s, trees, scratch_fd, f);
}

/* A persistent sandbox's pid 1: no command of its own; it reaps whatever exec'd processes leave
   behind until the monitor kills it. */
__attribute__((noreturn)) static void idle(int sock) {
  struct fail f = {0};
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (close_fds_except(sock) < 0 || sigprocmask(SIG_BLOCK, &chld, NULL) < 0 ||
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || drop_bounding(0, &f) < 0 || set_caps(0, &f) < 0)
    _exit(BKG_SETUP_FAILED);
  for (;;) {
    siginfo_t si;
    if (sigwaitinfo(&chld, &si) < 0 && errno != EINTR) _exit(BKG_SETUP_FAILED);
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
}

void sandbox_init(const struct spec *s, int sock, int status_fd, const struct seccomp_prog *prog) {
  struct fail f = {0};
  char msg[16];
  int trees[MAX_OPS], passed[MAX_MSG_FDS], scratch_fd = -1, egress_fd = -1;
  size_t npassed = 0;
  /* Die with the monitor: it is the only one that cleans up after us. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) _exit(BKG_SETUP_FAILED);
  /* Create the remaining namespaces now, while the monitor writes our id maps and joins cgroups. */
  int ns = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | (s->share_net ? 0 : CLONE_NEWNET);
  if (unshare(ns) < 0) {
    fail_set(&f, "namespaces", errno, "unshare mount, ipc, uts%s namespaces", s->share_net ? "" : ", net");
    report_fail(status_fd, &f);
    _exit(BKG_SETUP_FAILED);
  }
  ssize_t n = recv_msg(sock, msg, sizeof msg, passed, &npassed);
  /* the monitor sends one tree per operation that has one, in operation order */
  for (size_t i = 0, next = 0; i < s->n_ops; i++) trees[i] = spec_op_has_tree(s, i) && next < npassed ? passed[next++] : -1;
  if (n <= 0 || msg[0] != MSG_GO) _exit(BKG_SETUP_FAILED); /* the monitor reports its own failure */
  if (prepare(s, trees, &scratch_fd, &egress_fd, &f)) {
    report_fail(status_fd, &f);
    _exit(BKG_SETUP_FAILED);
  }
  for (size_t i = 0; i < npassed; i++) (void)close(passed[i]);
  /* which descriptors follow, in this order: the scratch layer's, the egress socket */
  char has[2] = {scratch_fd >= 0, egress_fd >= 0};
  int ready_fds[2], nready = 0;
  if (scratch_fd >= 0) ready_fds[nready++] = scratch_fd;
  if (egress_fd >= 0) ready_fds[nready++] = egress_fd;
  if (send_msg(sock, MSG_READY, has, sizeof has, ready_fds, (size_t)nready) < 0) _exit(BKG_SETUP_FAILED);
  if (scratch_fd >= 0) (void)close(scratch_fd);
  if (egress_fd >= 0) (void)close(egress_fd);
  if (s->persist) idle(sock);

  pid_t cmd = fork();
  if (cmd < 0) {
    fail_set(&f, "exec", errno, "fork");
    report_fail(status_fd, &f);
    _exit(BKG_SETUP_FAILED);
  }
  if (cmd == 0) {
    (void)close(sock);
    sandbox_exec_command(s, status_fd, prog);
  }
  /* pid 1: keep nothing but the channel, give up every privilege, reap until the command exits. */
  if (close_fds_except(sock) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || drop_bounding(0, &f) < 0 ||
      set_caps(0, &f) < 0) {
    (void)kill(cmd, SIGKILL);
    _exit(BKG_SETUP_FAILED);
  }
  int status = 0;
  for (;;) {
    int st;
    pid_t p = wait(&st);
    if (p < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p == cmd) {
      status = st;
      break;
    }
  }
  (void)send_msg(sock, MSG_STATUS, &status, sizeof status, NULL, 0);
  _exit(0); /* the kernel now kills whatever is left in the pid namespace */
}
