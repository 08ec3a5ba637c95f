/* bkg-helper: messages with optional descriptors over the monitor/init socketpair. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "sandbox.h"

int send_msg(int sock, char type, const void *extra, size_t extra_len, const int *fds, size_t nfds) {
  char data[64];
  if (extra_len + 1 > sizeof data) {
    errno = EINVAL;
    return -1;
  }
  data[0] = type;
  if (extra_len) memcpy(data + 1, extra, extra_len);
  struct iovec iov = {data, extra_len + 1};
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_MSG_FDS)];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > MAX_MSG_FDS) {
    errno = EINVAL;
    return -1;
  }
  if (nfds > 0) {
    memset(&u, 0, sizeof u);
    msg.msg_control = u.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  for (;;) {
    ssize_t r = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (r >= 0) return 0;
    if (errno != EINTR) return -1;
  }
}

ssize_t recv_msg(int sock, char *buf, size_t len, int *fds, size_t *nfds) {
  struct iovec iov = {buf, len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_MSG_FDS)];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  *nfds = 0;
  ssize_t r;
  do r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return r;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    if (n > MAX_MSG_FDS - *nfds) n = MAX_MSG_FDS - *nfds;
    memcpy(fds + *nfds, CMSG_DATA(c), n * sizeof(int));
    *nfds += n;
  }
  return r;
}
