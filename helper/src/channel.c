/* bkg-helper: messages with optional descriptors over the monitor/init socketpair. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "sandbox.h"

int send_msg(int sock, char type, const void *extra, size_t extra_len, int fd) {
  char data[64];
  if (extra_len + 1 > sizeof data) {
    errno = EINVAL;
    return -1;
  }
  data[0] = type;
  if (extra_len) memcpy(data + 1, extra, extra_len);
  struct iovec iov = {data, extra_len + 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(&u, 0, sizeof u);
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t r = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (r >= 0) return 0;
    if (errno != EINTR) return -1;
  }
}

ssize_t recv_msg(int sock, char *buf, size_t len, int *fd) {
  struct iovec iov = {buf, len};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  *fd = -1;
  ssize_t r;
  do r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return r;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(c), sizeof(int));
  return r;
}
