/* bkg-helper: the supervisors' launcher (see launcher.h). */
#define _GNU_SOURCE
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "execserver.h"
#include "util.h"

#define MAX_SPEC (4u << 20)

/* In the forked child: the request, then the supervisor in our place. Never returns. */
__attribute__((noreturn)) static void launch(int conn, const char *self) {
  struct fail f = {0};
  unsigned char h[4];
  uint32_t len = 0;
  char *spec = NULL;
  int memfd = -1;
  /* above the descriptors it is to end up on (3 and 4), so that no dup2 below closes another */
  if ((conn = fcntl(conn, F_DUPFD_CLOEXEC, 10)) < 0) _exit(1);
  if (read_full(conn, h, sizeof h) < 0) _exit(1); /* the caller went away */
  len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
  if (len == 0 || len > MAX_SPEC) fail_set(&f, "launcher", EINVAL, "a spec of %u bytes", len);
  else if (!(spec = malloc(len)) || read_full(conn, spec, len) < 0) fail_set(&f, "launcher", errno ? errno : EIO, "read the spec");
  else if ((memfd = (int)syscall(SYS_memfd_create, "bkg-spec", MFD_CLOEXEC)) < 0 || (memfd = fcntl(memfd, F_DUPFD_CLOEXEC, 10)) < 0)
    fail_set(&f, "launcher", errno, "memfd_create");
  else if (write_all(memfd, spec, len) < 0 || lseek(memfd, 0, SEEK_SET) < 0) fail_set(&f, "launcher", errno, "write the spec");
  else if (setsid() < 0) fail_set(&f, "launcher", errno, "setsid");
  if (f.stage) {
    report_fail(conn, &f);
    _exit(1);
  }
  /* as a fresh process would start: no signal ignored (we ignore SIGCHLD and SIGPIPE), none blocked */
  sigset_t none;
  sigemptyset(&none);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) (void)signal(sig, SIG_DFL);
  (void)sigprocmask(SIG_SETMASK, &none, NULL);
  /* both are at 10 or above: dup2 gives 3 and 4 without close-on-exec */
  if (dup2(memfd, 3) < 0 || dup2(conn, 4) < 0 || syscall(SYS_close_range, 5, ~0U, 0) < 0) {
    fail_set(&f, "launcher", errno, "descriptors");
    report_fail(conn, &f);
    _exit(1);
  }
  char line[64];
  int n = snprintf(line, sizeof line, "{\"type\":\"spawned\",\"pid\":%d}\n", (int)getpid());
  if (write_all(4, line, (size_t)n) < 0) _exit(1);
  char *argv[] = {"bkg-helper", "--args", "3", "--json-status-fd", "4", NULL};
  char *envp[] = {NULL};
  execve(self, argv, envp); /* by its path, not /proc/self/exe: the process is then called bkg-helper, as one we spawn */
  fail_set(&f, "launcher", errno, "exec the helper");
  report_fail(4, &f);
  _exit(127);
}

int launcher_main(const char *path) {
  struct fail f = {0};
  pid_t parent = getppid();
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fail_set(&f, "launcher", errno, "readlink /proc/self/exe");
    report_fail(1, &f);
    return 1;
  }
  self[n] = '\0';
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent) return 1;
  (void)signal(SIGCHLD, SIG_IGN); /* the kernel reaps what we start: each supervisor outlives us, re-parented */
  (void)signal(SIGPIPE, SIG_IGN); /* a caller that went away ends a child's write, not the child */
  int lfd = execserver_listen(path, &f);
  if (lfd < 0) {
    report_fail(1, &f);
    return 1;
  }
  static const char listening[] = "{\"type\":\"listening\"}\n";
  if (write_all(1, listening, sizeof listening - 1) < 0) return 1;
  /* nothing more to say: what we start gets /dev/null as its standard streams, as a detached spawn would */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2(null, 1) < 0) return 1;
  (void)close(null);
  for (;;) {
    struct pollfd p = {lfd, POLLIN, 0}; /* the listening socket is non-blocking */
    if (poll(&p, 1, -1) < 0 && errno != EINTR) return 1;
    int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
      (void)close(lfd);
      launch(conn, self);
    }
    (void)close(conn);
    if (pid < 0) (void)usleep(10000); /* out of processes for now: the caller sees its connection close */
  }
}
