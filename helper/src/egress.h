/* bkg-helper: the egress socket of a sandbox with an allowlisted network. The sandbox's network
   namespace has only loopback; its init creates a listening TCP socket on 127.0.0.1:PORT there and
   hands it to the monitor, which passes it on to its caller (bkg's egress proxy, in the host's
   network namespace, accepts on it). No process inside relays anything. */
#ifndef BKG_EGRESS_H
#define BKG_EGRESS_H

#include <sys/types.h>
#include "util.h"

/* In the sandbox's network namespace (loopback up): a listening socket on 127.0.0.1:port. */
int egress_listen(unsigned short port, struct fail *f);

/* Pass a listening socket to a Node.js parent over its IPC channel (stdio 'ipc'): the one message
   form Node turns into a net.Server ({"cmd":"NODE_HANDLE","type":"net.Server",...} with the
   descriptor attached). */
int egress_pass(int ipc_fd, int listen_fd, struct fail *f);

/* --take-egress PID PORT: find the listening socket on 127.0.0.1:PORT that the monitor PID holds
   (a running persistent sandbox's, after a daemon restart) and pass a duplicate of it (pidfd_getfd). */
int egress_take(pid_t pid, unsigned short port, int ipc_fd, struct fail *f);

#endif
