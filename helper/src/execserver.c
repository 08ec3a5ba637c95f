/* bkg-helper: the exec server of a persistent sandbox's supervisor (see execserver.h). */
#define _GNU_SOURCE
#include "execserver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "exec.h"
#include "monitor.h"
#include "spec.h"

#define MAX_REQUEST ((1u << 20) + 4096 * 8 + 4)
#define MAX_FRAME (1u << 20)
#define MAX_PENDING_STDIN (1u << 20)
#define EXIT_GRACE_MS 200
#define CALLER_END_MS 5000 /* how long a served connection waits for its caller to end it */

int execserver_listen(const char *path, struct fail *f) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) return fail_set(f, "exec-server", ENAMETOOLONG, "socket path %s", path);
  memcpy(a.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail_set(f, "exec-server", errno, "socket");
  if (unlink(path) < 0 && errno != ENOENT) {
    int err = errno;
    (void)close(fd);
    return fail_set(f, "exec-server", err, "remove the stale %s", path);
  }
  mode_t old = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
  int err = errno;
  (void)umask(old);
  if (rc == 0 && listen(fd, 128) < 0) rc = -1, err = errno;
  if (rc < 0) {
    (void)close(fd);
    return fail_set(f, "exec-server", err, "listen on %s", path);
  }
  return fd;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One frame: its type, and its payload in a malloc'd buffer (NULL when empty). */
static int read_frame(int fd, char *type, char **data, uint32_t *len, uint32_t max) {
  unsigned char h[5];
  *data = NULL;
  if (read_full(fd, h, sizeof h) < 0) return -1;
  *type = (char)h[0];
  *len = be32(h + 1);
  if (*len > max) return -1;
  if (*len == 0) return 0;
  *data = malloc(*len);
  if (!*data || read_full(fd, *data, *len) < 0) {
    free(*data);
    *data = NULL;
    return -1;
  }
  return 0;
}

static int write_frame(int fd, char type, const void *data, uint32_t len) {
  unsigned char h[5] = {(unsigned char)type, (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                        (unsigned char)(len >> 8), (unsigned char)len};
  if (write_all(fd, h, sizeof h) < 0) return -1;
  return len ? write_all(fd, data, len) : 0;
}

/* One exec, in the process that accepted its connection: that process joined the sandbox while it
   waited (namespaces and root, see execserver_start), so the command is its only fork. It relays
   the streams as frames, carries out control lines, enforces the deadline and reports the exit as
   a `bkg-helper --exec-into` monitor would. */
struct exec_run {
  int conn, in, out, err, status, status_w; /* in: the command's stdin (or the terminal's master) */
  char *pending;                             /* stdin bytes the command has not taken yet */
  size_t pending_len;
  int stdin_eof, caller;
  struct exec_control ctl;
  struct outcome oc;
};

static void close_fd(int *fd) {
  if (*fd >= 0) (void)close(*fd);
  *fd = -1;
}

static void pump_stdin(struct exec_run *r) {
  while (r->pending_len && r->in >= 0) {
    ssize_t n = write(r->in, r->pending, r->pending_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) { /* the command closed its stdin: what it did not read is dropped */
      r->pending_len = 0;
      close_fd(&r->in);
      return;
    }
    memmove(r->pending, r->pending + n, r->pending_len - (size_t)n);
    r->pending_len -= (size_t)n;
  }
}

/* End the command (its process group, or the command alone before it made one), as a monitor does on SIGTERM. */
static void end_command(struct exec_run *r, int why) {
  if (!r->oc.killed_by && !r->oc.have_status) r->oc.killed_by = why;
  if (r->ctl.cmd > 0 && !r->oc.have_status && kill(-r->ctl.cmd, SIGKILL) < 0) (void)kill(r->ctl.cmd, SIGKILL);
}

/* A frame from the caller. Returns -1 when the caller is gone. */
static int from_caller(struct exec_run *r) {
  char type, *data;
  uint32_t len;
  if (read_frame(r->conn, &type, &data, &len, MAX_FRAME) < 0) return -1;
  if (type == 'I' && r->in >= 0 && len) {
    char *grown = realloc(r->pending, r->pending_len + len);
    if (grown) {
      r->pending = grown;
      memcpy(r->pending + r->pending_len, data, len);
      r->pending_len += len;
      pump_stdin(r);
    }
  } else if (type == 'E') {
    r->stdin_eof = 1;
  } else if (type == 'C' && len) {
    exec_control(&r->ctl, data, len);
  } else if (type == 'K') {
    end_command(r, SIGTERM);
  }
  free(data);
  if (r->stdin_eof && !r->pending_len) close_fd(&r->in);
  return 0;
}

/* One read of fd as one frame (header and payload in one write): 1 when it relayed some, 0 when
   there was nothing (or the end, which closes fd), -1 when the caller is gone. */
static int relay_out(struct exec_run *r, int *fd, char type) {
  unsigned char buf[5 + 65536];
  ssize_t n = read(*fd, buf + 5, sizeof buf - 5);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (n <= 0) {
    if (*fd == r->ctl.master) r->ctl.master = -1; /* no terminal left to resize */
    close_fd(fd);
    return 0;
  }
  buf[0] = (unsigned char)type, buf[1] = 0, buf[2] = (unsigned char)(n >> 16), buf[3] = (unsigned char)(n >> 8), buf[4] = (unsigned char)n;
  return !r->caller ? 0 : write_all(r->conn, buf, 5 + (size_t)n) < 0 ? -1 : 1;
}

/* The command's side of the fork: its stdio (pipes or the terminal), then the spec's exec. */
__attribute__((noreturn)) static void command(const struct spec *s, const struct seccomp_prog *prog, const int ends[3],
                                              const char *slave, int status_w) {
  struct fail f = {0};
  if (slave) {
    if (exec_attach_pty(slave, &f) < 0) {
      report_fail(status_w, &f);
      _exit(BKG_SETUP_FAILED);
    }
  } else {
    for (int i = 0; i < 3; i++)
      if (dup2(ends[i], i) < 0) _exit(BKG_SETUP_FAILED);
  }
  sandbox_exec_command(s, status_w, prog);
}

__attribute__((noreturn)) static void serve(int conn, const struct fail *joined) {
  sigset_t none;
  sigemptyset(&none);
  (void)sigprocmask(SIG_SETMASK, &none, NULL);
  if (dup2(conn, 3) < 0 || syscall(SYS_close_range, 4, ~0U, 0) < 0) _exit(1);
  conn = 3;
  char type, *req;
  uint32_t len;
  if (read_frame(conn, &type, &req, &len, MAX_REQUEST) < 0 || type != 'R' || len < 4) _exit(1);
  uint32_t spec_len = be32((unsigned char *)req);
  if (spec_len == 0 || spec_len > len - 4 || req[4 + spec_len - 1] != '\0') _exit(1);
  int p[4][2]; /* stdin, stdout, stderr, status */
  for (int i = 0; i < 4; i++)
    if (pipe2(p[i], O_CLOEXEC) < 0) _exit(1);
  /* from here on the command may run: before it, any failure leaves the caller free to spawn a helper */
  if (write_frame(conn, 'A', NULL, 0) < 0) _exit(1);
  double t0 = now_ms();
  struct exec_run r = {.conn = conn, .in = p[0][1], .out = p[1][0], .err = p[2][0], .status = p[3][0], .status_w = p[3][1],
                       .caller = 1, .ctl = {.cmd = -1, .master = -1},
                       .oc = {.status_fd = p[3][1], .scratch_fd = -1, .egress_fd = -1, .ipc_fd = -1}};
  struct fail f = *joined;
  struct spec s;
  memset(&s, 0, sizeof s);
  char *spec = req + 4, slave[64];
  size_t count = 0, k = 0, seccomp_len = len - 4 - spec_len;
  struct seccomp_prog prog = {(const unsigned char *)spec + spec_len, seccomp_len};
  for (size_t i = 0; i < spec_len; i++) count += spec[i] == '\0';
  char **t = calloc(count + 1, sizeof *t);
  if (!f.stage && !t) fail_set(&f, "exec", ENOMEM, "spec");
  if (!f.stage) {
    for (size_t i = 0; i < spec_len; i += strlen(spec + i) + 1) t[k++] = spec + i;
    if (seccomp_len % 8 || seccomp_len > 4096 * 8) fail_set(&f, "seccomp", EINVAL, "program must be 1..4096 8-byte instructions");
    else if (spec_parse(&s, t, k, &f) == 0 && sandbox_become_root(&s, &f) == 0 && s.pty_rows &&
             (r.ctl.master = exec_open_pty(&s, slave, sizeof slave, &f)) >= 0) {
      /* the terminal is both streams: the command's input goes to the master, its output comes from it */
      close_fd(&r.in), close_fd(&r.out);
      r.out = r.ctl.master;
      if ((r.in = fcntl(r.ctl.master, F_DUPFD_CLOEXEC, 5)) < 0) fail_set(&f, "pty", errno, "dup");
    }
  }
  int pidfd = -1;
  if (!f.stage) {
    int ends[3] = {p[0][0], p[1][1], p[2][1]};
    /* vfork: nothing of ours is copied for a process that only sets itself up and execs (it shares our
       memory until then and changes nothing we read after: environ is its last write) */
    /* until its execve the child shares our memory and is visible in the sandbox's pid namespace: our
       memory must not be reachable through it (/proc/PID/mem, ptrace) from the sandbox's processes */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) _exit(1);
    pid_t cmd = vfork();
    if (cmd < 0) fail_set(&f, "exec", errno, "vfork");
    else if (cmd == 0) command(&s, &prog, ends, s.pty_rows ? slave : NULL, p[3][1]);
    else if ((pidfd = (int)syscall(SYS_pidfd_open, cmd, 0)) < 0) {
      (void)kill(cmd, SIGKILL);
      fail_set(&f, "monitor", errno, "pidfd_open");
    }
    r.ctl.cmd = cmd;
  }
  for (int i = 0; i < 3; i++) (void)close(p[i][i ? 1 : 0]); /* the command's ends */
  if (r.ctl.master >= 0) close_fd(&r.err);
  int code = BKG_SETUP_FAILED;
  if (f.stage) { /* nothing runs: say why, and end */
    report_fail(r.status_w, &f);
    close_fd(&r.status_w);
    close_fd(&r.in);
  }
  (void)fcntl(r.in, F_SETFL, O_NONBLOCK);
  double deadline = !f.stage && s.timeout_ms ? t0 + (double)s.timeout_ms : 0, grace = 0;
  while (r.status >= 0 || ((r.out >= 0 || r.err >= 0) && (!grace || now_ms() < grace))) {
    struct pollfd q[6] = {{r.caller && r.pending_len < MAX_PENDING_STDIN ? conn : -1, POLLIN, 0},
                          {r.out, POLLIN, 0},
                          {r.err, POLLIN, 0},
                          {r.status, POLLIN, 0},
                          {pidfd, POLLIN, 0},
                          {r.pending_len ? r.in : -1, POLLOUT, 0}};
    double until = grace ? grace : deadline;
    int wait_ms = until ? (until <= now_ms() ? 0 : (int)(until - now_ms()) + 1) : -1;
    int n = poll(q, 6, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (q[0].revents && from_caller(&r) < 0) {
      r.caller = 0; /* the caller went away (Ctrl-C, a dropped connection): end the command as a killed helper would */
      end_command(&r, SIGTERM);
    }
    if (q[5].revents) pump_stdin(&r);
    if (r.stdin_eof && !r.pending_len) close_fd(&r.in);
    if ((q[1].revents && relay_out(&r, &r.out, '1') < 0) || (q[2].revents && relay_out(&r, &r.err, '2') < 0) ||
        (q[3].revents && relay_out(&r, &r.status, 'S') < 0)) {
      r.caller = 0;
      end_command(&r, SIGTERM);
    }
    if (deadline && !r.oc.have_status && now_ms() >= deadline) {
      r.oc.timed_out = 1;
      end_command(&r, 0);
      deadline = 0;
    }
    if (pidfd >= 0 && q[4].revents) {
      while (waitpid(r.ctl.cmd, &r.oc.status, 0) < 0 && errno == EINTR) {
      }
      r.oc.have_status = r.oc.ready = 1;
      r.ctl.cmd = -1; /* reaped: its pid may be another process's from now on */
      close_fd(&pidfd);
      close_fd(&r.in);
      code = report_exit(r.status_w, &s, &r.oc, now_ms() - t0);
      close_fd(&r.status_w);
      /* processes the command left running may hold its streams open: what they write after it ended is not its output */
      grace = now_ms() + EXIT_GRACE_MS;
    }
  }
  /* the grace is for output still to come: what the command wrote before it ended is in the pipes, relay it */
  int *left[2] = {&r.out, &r.err};
  for (int i = 0; i < 2; i++) {
    if (*left[i] < 0) continue;
    (void)fcntl(*left[i], F_SETFL, O_NONBLOCK);
    for (int k = 1; k > 0 && *left[i] >= 0 && r.caller;)
      if ((k = relay_out(&r, left[i], i ? '2' : '1')) < 0) r.caller = 0;
    close_fd(left[i]);
  }
  unsigned char x[9] = {'X', 0, 0, 0, 4, (unsigned char)((uint32_t)code >> 24), (unsigned char)((uint32_t)code >> 16),
                        (unsigned char)((uint32_t)code >> 8), (unsigned char)code};
  if (r.caller && write_all(conn, x, sizeof x) == 0) {
    /* The caller may still be writing (an 'E' or stdin sent as the command ended). Closing now would
       fail that write, and a Node socket whose write fails drops what it has not read yet: this
       exec's output and result. So close our side only, and take what comes until the caller ends. */
    (void)shutdown(conn, SHUT_WR);
    double until = now_ms() + CALLER_END_MS;
    char sink[4096];
    for (;;) {
      double left = until - now_ms();
      struct pollfd q = {conn, POLLIN, 0};
      if (left <= 0 || poll(&q, 1, (int)left + 1) <= 0) break;
      ssize_t n = read(conn, sink, sizeof sink);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
  }
  _exit(0);
}

pid_t execserver_start(const struct spec *s, int listen_fd, pid_t init, int ready_fd, struct fail *f) {
  pid_t server = fork();
  if (server < 0) return fail_set(f, "exec-server", errno, "fork");
  if (server > 0) return server;
  /* joined once, here: every exec's processes are then born in the sandbox's cgroups */
  struct fail jf = {0};
  sigset_t none;
  sigemptyset(&none);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) < 0 ||
      dup2(listen_fd, 3) < 0 || dup2(ready_fd, 4) < 0 || syscall(SYS_close_range, 5, ~0U, 0) < 0 ||
      cgroups_join(s, getpid(), &jf) < 0)
    _exit(1);
  /* until the sandbox is ready, callers wait in the backlog (none comes before: the engine waits for 'ready' too) */
  char c;
  ssize_t got;
  while ((got = read(4, &c, 1)) < 0 && errno == EINTR) {
  }
  (void)close(4);
  if (got != 1) _exit(1); /* the supervisor closed it without a word: the sandbox never became ready */
  (void)signal(SIGCHLD, SIG_IGN); /* each connection's server is reaped by the kernel */
  int taken[2];
  if (pipe2(taken, O_CLOEXEC) < 0) _exit(1);
  pid_t self = getpid();
  for (;;) {
    /* A spare is forked ahead and waits in accept itself, so a caller never waits for a fork of ours:
       once it has a connection it says so, and the next spare is forked while it serves. */
    pid_t spare = fork();
    if (spare < 0) {
      (void)poll(NULL, 0, 100);
      continue;
    }
    if (spare == 0) {
      (void)close(taken[0]);
      /* waiting, it holds the listening socket: it goes with the server (a dead server means a refused connect) */
      if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != self) _exit(1); /* gone before that took effect */
      /* it joins the sandbox now, so that an exec has nothing left to do but fork the command (a failure is
         the answer to the next request, not a loop of spares) */
      struct fail joined = {0};
      (void)exec_join(init, &joined);
      int conn;
      for (;;) {
        struct pollfd p = {3, POLLIN, 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR) _exit(1);
        if ((conn = accept4(3, NULL, NULL, SOCK_CLOEXEC)) >= 0) break;
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) (void)poll(NULL, 0, 100); /* EMFILE and the like: no spinning */
      }
      /* serving, it is on its own like a spawned helper: its command ends when its caller goes, not with the server */
      if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0 || write(taken[1], "a", 1) != 1) _exit(1);
      (void)close(taken[1]);
      (void)signal(SIGCHLD, SIG_DFL);
      serve(conn, &joined);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, spare, 0);
    if (pidfd < 0) _exit(1); /* unable to tell when it dies: fail closed, callers spawn a helper */
    struct pollfd q[2] = {{taken[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
    for (;;) {
      if (poll(q, 2, -1) < 0) {
        if (errno == EINTR) continue;
        _exit(1);
      }
      char c;
      if (q[0].revents && read(taken[0], &c, 1) == 1) break; /* it took a connection */
      if (q[1].revents) break;                              /* it died waiting: fork another */
    }
    (void)close(pidfd);
  }
}
