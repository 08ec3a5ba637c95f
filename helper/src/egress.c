/* bkg-helper: the egress socket of a sandbox with an allowlisted network (see egress.h). */
#define _GNU_SOURCE
#include "egress.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

int egress_listen(unsigned short port, struct fail *f) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return fail_set(f, "network", errno, "egress socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, SOMAXCONN) < 0) {
    int saved = errno;
    (void)close(s);
    return fail_set(f, "network", saved, "egress socket on 127.0.0.1:%u", (unsigned)port);
  }
  return s;
}

int egress_pass(int ipc_fd, int listen_fd, struct fail *f) {
  static const char line[] = "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Server\",\"msg\":{\"bkg\":\"egress\"}}\n";
  struct iovec iov = {(void *)line, sizeof line - 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &listen_fd, sizeof(int));
  for (;;) {
    ssize_t r = sendmsg(ipc_fd, &msg, MSG_NOSIGNAL);
    if (r == (ssize_t)(sizeof line - 1)) return 0;
    if (r < 0 && errno == EINTR) continue;
    return fail_set(f, "network", r < 0 ? errno : EIO, "pass the egress socket");
  }
}

/* Whether fd is a listening IPv4 socket bound to 127.0.0.1:port. */
static int is_egress(int fd, unsigned short port) {
  int listening = 0;
  socklen_t len = sizeof listening;
  struct sockaddr_in a;
  socklen_t alen = sizeof a;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) return 0;
  if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0 || alen < sizeof a || a.sin_family != AF_INET) return 0;
  return ntohs(a.sin_port) == port && ntohl(a.sin_addr.s_addr) == INADDR_LOOPBACK;
}

int egress_take(pid_t pid, unsigned short port, int ipc_fd, struct fail *f) {
  char path[64];
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return fail_set(f, "network", errno, "pidfd_open %d", (int)pid);
  snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  if (!d) {
    int saved = errno;
    (void)close(pidfd);
    return fail_set(f, "network", saved, "list the descriptors of %d", (int)pid);
  }
  int rc = fail_set(f, "network", ENOENT, "process %d holds no egress socket on 127.0.0.1:%u", (int)pid, (unsigned)port);
  for (struct dirent *e; (e = readdir(d));) {
    char target[64];
    if (e->d_name[0] == '.') continue;
    ssize_t n = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
    if (n < 8 || strncmp(target, "socket:[", 8)) continue;
    int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
    if (fd < 0) {
      rc = fail_set(f, "network", errno, "take descriptor %s of %d", e->d_name, (int)pid);
      continue;
    }
    int found = is_egress(fd, port);
    if (found) {
      rc = egress_pass(ipc_fd, fd, f);
      f->stage = rc ? f->stage : NULL;
    }
    (void)close(fd);
    if (found) break;
  }
  (void)closedir(d);
  (void)close(pidfd);
  return rc;
}
