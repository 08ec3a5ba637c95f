/* bkg-helper: the sandbox side — pid 1 of the new namespaces and the command it runs. */
#ifndef BKG_SANDBOX_H
#define BKG_SANDBOX_H

#include <stddef.h>
#include "spec.h"

/* Messages on the SOCK_SEQPACKET channel between the monitor and the sandbox init. */
#define MSG_GO 'G'     /* monitor -> init: maps and cgroups are in place; carries the host trees (see mounts.h) */
#define MSG_READY 'R'  /* init -> monitor: filesystem built; two flag bytes say which of the scratch fd and the
                          egress socket (egress.h) follow, in that order */
#define MSG_STATUS 'S' /* init -> monitor: followed by the command's wait status (int) */

struct seccomp_prog {
  const unsigned char *data;
  size_t len;
};

/* Runs as pid 1 of the new namespaces; never returns. */
__attribute__((noreturn)) void sandbox_init(const struct spec *s, int sock, int status_fd,
                                            const struct seccomp_prog *prog);

/* The command's side, shared with exec: new session, identity, capabilities, no_new_privs, seccomp, exec. */
__attribute__((noreturn)) void sandbox_exec_command(const struct spec *s, int status_fd, const struct seccomp_prog *prog);
/* Become uid/gid 0 of the sandbox's user namespace (after joining or creating it). */
int sandbox_become_root(const struct spec *s, struct fail *f);

#define MAX_MSG_FDS 16
int send_msg(int sock, char type, const void *extra, size_t extra_len, const int *fds, size_t nfds);
/* Receive one message and the descriptors passed with it. Returns bytes read, 0 on EOF. */
ssize_t recv_msg(int sock, char *buf, size_t len, int *fds, size_t *nfds);

#endif
