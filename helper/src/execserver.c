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

static int read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
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

/* In the exec's own monitor process: what `bkg-helper --exec-into` does with its spec and program. */
static int exec_request(char *spec, size_t spec_len, const char *seccomp, size_t seccomp_len, pid_t init) {
  struct fail f = {0};
  struct spec s;
  memset(&s, 0, sizeof s);
  size_t count = 0;
  for (size_t i = 0; i < spec_len; i++) count += spec[i] == '\0';
  char **t = calloc(count + 1, sizeof *t);
  if (!t) return BKG_SETUP_FAILED;
  size_t k = 0;
  for (size_t i = 0; i < spec_len; i += strlen(spec + i) + 1) t[k++] = spec + i;
  struct seccomp_prog prog = {(const unsigned char *)seccomp, seccomp_len};
  if (seccomp_len % 8 || seccomp_len > 4096 * 8) fail_set(&f, "seccomp", EINVAL, "program must be 1..4096 8-byte instructions");
  else if (spec_parse(&s, t, k, &f) == 0) {
    s.n_cgroups = 0; /* born in the sandbox's cgroups (the server lives there): no migration, no grace-period wait */
    int rc = exec_into(&s, init, 3, 4, &prog, &f);
    if (rc >= 0) return rc;
  }
  if (f.stage) report_fail(3, &f);
  return BKG_SETUP_FAILED;
}

struct streams {
  int conn, in, out, err, status, control;
  char *pending; /* stdin bytes the command has not taken yet */
  size_t pending_len;
};

static void close_fd(int *fd) {
  if (*fd >= 0) (void)close(*fd);
  *fd = -1;
}

static void pump_stdin(struct streams *st) {
  while (st->pending_len && st->in >= 0) {
    ssize_t n = write(st->in, st->pending, st->pending_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) { /* the command closed its stdin: what it did not read is dropped */
      st->pending_len = 0;
      close_fd(&st->in);
      return;
    }
    memmove(st->pending, st->pending + n, st->pending_len - (size_t)n);
    st->pending_len -= (size_t)n;
  }
}

/* A frame from the caller. Returns -1 when the caller is gone. */
static int from_caller(struct streams *st, pid_t mon, int *stdin_eof) {
  char type, *data;
  uint32_t len;
  if (read_frame(st->conn, &type, &data, &len, MAX_FRAME) < 0) return -1;
  if (type == 'I' && st->in >= 0 && len) {
    char *grown = realloc(st->pending, st->pending_len + len);
    if (grown) {
      st->pending = grown;
      memcpy(st->pending + st->pending_len, data, len);
      st->pending_len += len;
      pump_stdin(st);
    }
  } else if (type == 'E') {
    *stdin_eof = 1;
  } else if (type == 'C' && st->control >= 0 && len) {
    (void)write_all(st->control, data, len);
  } else if (type == 'K') {
    (void)kill(mon, SIGTERM);
  }
  free(data);
  if (*stdin_eof && !st->pending_len) close_fd(&st->in);
  return 0;
}

static int relay_out(struct streams *st, int *fd, char type) {
  char buf[65536];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (n <= 0) {
    close_fd(fd);
    return 0;
  }
  return write_frame(st->conn, type, buf, (uint32_t)n);
}

__attribute__((noreturn)) static void serve(int conn, pid_t init) {
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
  int p[5][2]; /* stdin, stdout, stderr, status, control */
  for (int i = 0; i < 5; i++)
    if (pipe2(p[i], O_CLOEXEC) < 0) _exit(1);
  /* from here on the command may run: before it, any failure leaves the caller free to spawn a helper */
  if (write_frame(conn, 'A', NULL, 0) < 0) _exit(1);
  pid_t mon = fork();
  if (mon < 0) _exit(1);
  if (mon == 0) {
    int ends[5] = {p[0][0], p[1][1], p[2][1], p[3][1], p[4][0]}, high[5];
    for (int i = 0; i < 5; i++)
      if ((high[i] = fcntl(ends[i], F_DUPFD, 16)) < 0) _exit(BKG_SETUP_FAILED);
    for (int i = 0; i < 5; i++)
      if (dup2(high[i], i) < 0) _exit(BKG_SETUP_FAILED);
    if (syscall(SYS_close_range, 5, ~0U, 0) < 0) _exit(BKG_SETUP_FAILED);
    _exit(exec_request(req + 4, spec_len, req + 4 + spec_len, len - 4 - spec_len, init));
  }
  struct streams st = {conn, p[0][1], p[1][0], p[2][0], p[3][0], p[4][1], NULL, 0};
  (void)close(p[0][0]), (void)close(p[1][1]), (void)close(p[2][1]), (void)close(p[3][1]), (void)close(p[4][0]);
  (void)fcntl(st.in, F_SETFL, O_NONBLOCK);
  int pidfd = (int)syscall(SYS_pidfd_open, mon, 0), stdin_eof = 0, caller = 1;
  double grace = 0;
  while (st.status >= 0 || ((st.out >= 0 || st.err >= 0) && (!grace || now_ms() < grace))) {
    struct pollfd q[6] = {{caller && st.pending_len < MAX_PENDING_STDIN ? conn : -1, POLLIN, 0},
                          {st.out, POLLIN, 0},
                          {st.err, POLLIN, 0},
                          {st.status, POLLIN, 0},
                          {grace ? -1 : pidfd, POLLIN, 0},
                          {st.pending_len ? st.in : -1, POLLOUT, 0}};
    int wait_ms = grace ? (int)(grace - now_ms()) + 1 : -1;
    int r = poll(q, 6, wait_ms < 0 && grace ? 0 : wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    if (q[0].revents && from_caller(&st, mon, &stdin_eof) < 0) {
      caller = 0; /* the caller went away (Ctrl-C, a dropped connection): end the command as a killed helper would */
      (void)kill(mon, SIGTERM);
    }
    if (q[5].revents) pump_stdin(&st);
    if (stdin_eof && !st.pending_len) close_fd(&st.in);
    if ((q[1].revents && relay_out(&st, &st.out, '1') < 0) || (q[2].revents && relay_out(&st, &st.err, '2') < 0) ||
        (q[3].revents && relay_out(&st, &st.status, 'S') < 0)) {
      caller = 0;
      (void)kill(mon, SIGTERM);
    }
    /* processes the command left running may hold its streams open: what they write after it ended is not its output */
    if (q[4].revents) grace = now_ms() + EXIT_GRACE_MS;
  }
  int ws = 0;
  while (waitpid(mon, &ws, 0) < 0 && errno == EINTR) {
  }
  uint32_t code = WIFEXITED(ws) ? (uint32_t)WEXITSTATUS(ws) : 128u + (uint32_t)WTERMSIG(ws);
  unsigned char be[4] = {(unsigned char)(code >> 24), (unsigned char)(code >> 16), (unsigned char)(code >> 8), (unsigned char)code};
  if (caller) (void)write_frame(conn, 'X', be, sizeof be);
  _exit(0);
}

pid_t execserver_start(const struct spec *s, int listen_fd, pid_t init, struct fail *f) {
  pid_t server = fork();
  if (server < 0) return fail_set(f, "exec-server", errno, "fork");
  if (server > 0) return server;
  /* joined once, here: every exec's processes are then born in the sandbox's cgroups */
  struct fail jf = {0};
  sigset_t none;
  sigemptyset(&none);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) < 0 ||
      dup2(listen_fd, 3) < 0 || syscall(SYS_close_range, 4, ~0U, 0) < 0 || cgroups_join(s, getpid(), &jf) < 0)
    _exit(1);
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
      int conn;
      for (;;) {
        struct pollfd p = {3, POLLIN, 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR) _exit(1);
        if ((conn = accept4(3, NULL, NULL, SOCK_CLOEXEC)) >= 0) break;
      }
      /* serving, it is on its own like a spawned helper: its command ends when its caller goes, not with the server */
      if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0 || write(taken[1], "a", 1) != 1) _exit(1);
      (void)close(taken[1]);
      (void)signal(SIGCHLD, SIG_DFL);
      serve(conn, init);
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
