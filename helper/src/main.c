/* bkg-helper: the monitor. Reads the spec and the seccomp program from descriptors, creates the
   cgroups and namespaces, maps identities, waits for the sandbox with a deadline, reports JSON
   lines on the status descriptor and removes what it created. Never setuid; one job. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "exec.h"
#include "execserver.h"
#include "launcher.h"
#include "ids.h"
#include "monitor.h"
#include "changes.h"
#include "egress.h"
#include "persist.h"
#include "sandbox.h"
#include "spec.h"
#include "util.h"

#define BKG_HELPER_VERSION "1"
#define MAX_SPEC (1 << 20)
#define MAX_SECCOMP (4096 * 8)

struct options {
  int args_fd, seccomp_fd, status_fd, hold_fd, control_fd, list_changes;
  int exec_into;                        /* pid of a running sandbox's init, or 0 */
  int ipc_fd;                           /* --ipc-fd N: the caller's Node.js IPC channel (the egress socket goes there) */
  int take_egress_of, take_egress_port; /* --take-egress PID PORT: pass on the egress socket a monitor holds, and exit */
  const char *changes_of, *changes_lower; /* --changes SCRATCH LOWER|-: list and exit (-: the workspace started empty) */
  const char *save_of, *save_to;          /* --save SRC DEST: copy a scratch layer and exit */
  int save_link;                          /* --save-linked SRC DEST: the same with hard links (an immutable saved tree) */
};



static int parse_fd(const char *s, int *out) {
  char *end;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : -1;
  if (!s || errno || *end || v < 0 || v > 65535) return -1;
  *out = (int)v;
  return 0;
}

/* argv options of the helper itself; the remaining argv tokens are appended to the spec. */
static int parse_options(int argc, char **argv, struct options *o, int *first_spec, struct fail *f) {
  *o = (struct options){-1, -1, -1, -1, -1, 0, 0, -1, 0, 0, NULL, NULL, NULL, NULL, 0};
  int i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--list-changes")) {
      o->list_changes = 1;
      continue;
    }
    if (!strcmp(argv[i], "--changes")) {
      if (i + 2 >= argc) return fail_set(f, "options", EINVAL, "--changes needs SCRATCH and LOWER paths (or - for none)");
      o->changes_of = argv[++i];
      o->changes_lower = strcmp(argv[i + 1], "-") ? argv[i + 1] : NULL;
      i++;
      continue;
    }
    if (!strcmp(argv[i], "--save") || !strcmp(argv[i], "--save-linked")) {
      if (i + 2 >= argc) return fail_set(f, "options", EINVAL, "%s needs SRC and DEST paths", argv[i]);
      o->save_link = !strcmp(argv[i], "--save-linked");
      o->save_of = argv[++i];
      o->save_to = argv[++i];
      continue;
    }
    if (!strcmp(argv[i], "--take-egress")) {
      int pid, port;
      if (i + 2 >= argc || parse_fd(argv[i + 1], &pid) || pid == 0 || parse_fd(argv[i + 2], &port) || port == 0)
        return fail_set(f, "options", EINVAL, "--take-egress needs a process id and a port");
      o->take_egress_of = pid;
      o->take_egress_port = port;
      i += 2;
      continue;
    }
    if (!strcmp(argv[i], "--exec-into")) {
      int pid;
      if (i + 1 >= argc || parse_fd(argv[i + 1], &pid) || pid == 0)
        return fail_set(f, "options", EINVAL, "--exec-into needs a process id");
      o->exec_into = pid;
      i++;
      continue;
    }
    int *target = !strcmp(argv[i], "--args")             ? &o->args_fd
                  : !strcmp(argv[i], "--seccomp")        ? &o->seccomp_fd
                  : !strcmp(argv[i], "--json-status-fd") ? &o->status_fd
                  : !strcmp(argv[i], "--hold-fd")        ? &o->hold_fd
                  : !strcmp(argv[i], "--control-fd")     ? &o->control_fd
                  : !strcmp(argv[i], "--ipc-fd")         ? &o->ipc_fd
                                                         : NULL;
    if (!target) break;
    if (i + 1 >= argc || parse_fd(argv[i + 1], target))
      return fail_set(f, "options", EINVAL, "%s needs a descriptor number", argv[i]);
    i++;
  }
  *first_spec = i;
  return 0;
}

static int load_tokens(const struct options *o, int argc, char **argv, int first, char ***out, size_t *n,
                       struct fail *f) {
  char *data = NULL;
  size_t len = 0, count = 0;
  if (o->args_fd >= 0) {
    if (read_all(o->args_fd, MAX_SPEC, &data, &len) < 0) return fail_set(f, "spec", errno, "read spec");
    (void)close(o->args_fd);
    for (size_t i = 0; i < len; i++) count += data[i] == '\0';
    if (len && data[len - 1] != '\0') return fail_set(f, "spec", EINVAL, "spec must end with a NUL byte");
  }
  size_t total = count + (size_t)(argc - first);
  char **t = calloc(total + 1, sizeof *t);
  if (!t) return fail_set(f, "spec", ENOMEM, "tokens");
  size_t k = 0;
  for (size_t i = 0; i < len; i += strlen(data + i) + 1) t[k++] = data + i;
  for (int i = first; i < argc; i++) t[k++] = argv[i];
  *out = t;
  *n = total;
  return 0;
}

/* A saved tree to restore. Its root is owned by the root of the sandbox that saved it; when that
   sandbox had another id range, the tree is seen through an idmapped mount that shifts its owners
   into this sandbox's range (the copy into the sandbox's tmpfs then keeps them). */
static int open_restore(const struct spec *s, const char *path, struct fail *f) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fail_set(f, "restore", errno, "open %s", path);
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int err = errno;
    (void)close(fd);
    return fail_set(f, "restore", err, "stat %s", path);
  }
  if (s->uid_map[0].inside != 0 || (st.st_uid == s->uid_map[0].outside && st.st_gid == s->gid_map[0].outside)) return fd;
  (void)close(fd);
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) return fail_set(f, "restore", errno, "open %s", path);
  int userns = ids_shift_userns(s, st.st_uid, st.st_gid, f);
  if (userns < 0) {
    (void)close(tree);
    return -1;
  }
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                            .userns_fd = (unsigned long long)userns};
  int rc = (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr);
  int err = errno;
  (void)close(userns);
  if (rc < 0) {
    (void)close(tree);
    return fail_set(f, "restore", err, "idmap %s from ids %lu:%lu", path, (unsigned long)st.st_uid,
                    (unsigned long)st.st_gid);
  }
  fd = openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  err = errno;
  (void)close(tree);
  if (fd < 0) return fail_set(f, "restore", err, "open %s", path);
  return fd;
}

/* The trees the sandbox cannot open itself, opened here with the caller's rights: host binds, saved
   scratch layers to restore (a plain directory descriptor), and the workspace as a detached copy
   whose owners appear shifted into the sandbox's id range. */
static int open_host_trees(const struct spec *s, pid_t pid, int *fds, size_t *n, struct fail *f) {
  *n = 0;
  int userns = -1;
  for (size_t i = 0; i < s->n_ops; i++) {
    if (!spec_op_has_tree(s, i)) continue;
    const struct mount_op *op = &s->ops[i];
    if (op->kind == M_RESTORE) {
      int fd = open_restore(s, op->a, f);
      if (fd < 0) return -1;
      fds[(*n)++] = fd;
      continue;
    }
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, op->a, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (fd < 0) return fail_set(f, op->kind == M_OVERLAY ? "overlay" : "mount", errno, "open %s", op->a);
    fds[(*n)++] = fd;
    if (op->kind != M_OVERLAY) continue;
    if (userns < 0) {
      char path[64];
      snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
      userns = open(path, O_RDONLY | O_CLOEXEC);
      if (userns < 0) return fail_set(f, "overlay", errno, "open user namespace");
    }
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                              .userns_fd = (unsigned long long)userns};
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
      int saved = errno;
      (void)close(userns);
      return fail_set(f, "overlay", saved, "idmap workspace %s", op->a);
    }
  }
  if (userns >= 0) (void)close(userns);
  return 0;
}

/* Returns 0 at end of stream. */
static int on_message(int sock, struct outcome *oc) {
  char msg[16];
  int fds[MAX_MSG_FDS];
  size_t nfds = 0;
  ssize_t n = recv_msg(sock, msg, sizeof msg, fds, &nfds);
  if (n <= 0) return 0;
  if (msg[0] == MSG_READY && n >= 3) {
    /* msg[1], msg[2]: whether the scratch fd and the egress socket follow, in that order */
    size_t next = 0;
    if (msg[1] && next < nfds) oc->scratch_fd = fds[next++];
    if (msg[2] && next < nfds) oc->egress_fd = fds[next++];
    for (size_t i = next; i < nfds; i++) (void)close(fds[i]);
    oc->ready = 1;
    if (oc->ready_fd >= 0) { /* the exec server may join the sandbox now: its root and mounts are in place */
      (void)write_all(oc->ready_fd, "r", 1);
      (void)close(oc->ready_fd);
      oc->ready_fd = -1;
    }
    struct buf b = {0};
    int rc = buf_puts(&b, "{\"type\":\"ready\"");
    if (!rc && oc->scratch_fd >= 0) rc = buf_printf(&b, ",\"scratch_fd\":%d", oc->scratch_fd);
    if (!rc && oc->egress_fd >= 0) rc = buf_printf(&b, ",\"egress_fd\":%d", oc->egress_fd);
    if (!rc && buf_puts(&b, "}") == 0) (void)status_line(oc->status_fd, &b);
    buf_free(&b);
    if (oc->egress_fd >= 0 && oc->ipc_fd >= 0) {
      struct fail ef = {0};
      if (egress_pass(oc->ipc_fd, oc->egress_fd, &ef) < 0) report_fail(oc->status_fd, &ef);
    }
    return 1;
  }
  for (size_t i = 0; i < nfds; i++) (void)close(fds[i]);
  if (msg[0] == MSG_STATUS && (size_t)n >= 1 + sizeof(int)) {
    memcpy(&oc->status, msg + 1, sizeof(int));
    oc->have_status = 1;
  }
  return 1;
}

/* Wait for the sandbox's init to exit, enforcing the deadline and forwarding termination. */
static int supervise(const struct spec *s, pid_t pid, int sock, int sigfd, struct outcome *oc, struct fail *f) {
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return fail_set(f, "monitor", errno, "pidfd_open");
  double deadline = s->timeout_ms ? now_ms() + (double)s->timeout_ms : 0;
  struct pollfd p[3] = {{pidfd, POLLIN, 0}, {sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
  int sock_open = 1;
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      double left = deadline - now_ms();
      wait_ms = left <= 0 ? 0 : (int)left + 1;
    }
    p[1].fd = sock_open ? sock : -1;
    int r = poll(p, 3, wait_ms);
    if (r < 0 && errno != EINTR) return fail_set(f, "monitor", errno, "poll");
    if (r == 0 && deadline && now_ms() >= deadline && !oc->timed_out) {
      oc->timed_out = 1;
      (void)kill(pid, SIGKILL); /* pid 1 of the namespace: the kernel kills every process in it */
      deadline = 0;
    }
    if (r > 0 && (p[2].revents & POLLIN)) {
      struct signalfd_siginfo si;
      if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        oc->killed_by = (int)si.ssi_signo;
        (void)kill(pid, SIGKILL);
      }
    }
    if (r > 0 && (p[1].revents & (POLLIN | POLLHUP)) && !((p[1].revents & POLLIN) && on_message(sock, oc)))
      sock_open = 0;
    if (r > 0 && (p[0].revents & POLLIN)) break;
  }
  /* Messages sent just before exit may still be queued. */
  struct pollfd q = {sock, POLLIN, 0};
  while (sock_open && poll(&q, 1, 0) > 0 && (q.revents & POLLIN) && on_message(sock, oc)) {
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return fail_set(f, "monitor", errno, "waitpid");
  (void)close(pidfd);
  return 0;
}



static int run(const struct spec *s, const struct options *o, const struct seccomp_prog *prog, struct fail *f) {
  int sigfd = -1, sv[2] = {-1, -1}, trees[MAX_MSG_FDS], exec_fd = -1, exec_bound = 0;
  pid_t exec_server = -1;
  size_t ntrees = 0;
  size_t created = 0;
  pid_t pid = -1;
  struct outcome oc = {.status_fd = o->status_fd, .scratch_fd = -1, .egress_fd = -1, .ipc_fd = o->ipc_fd, .ready_fd = -1};
  double t0 = now_ms();
  int rc = -1;
  if (s->n_uid_map == 0 || s->n_gid_map == 0) {
    fail_set(f, "spec", EINVAL, "--uid-map and --gid-map are required");
    goto out;
  }
  if (block_signals(s->die_with_parent, &sigfd, f) || cgroups_create(s, &created, f)) goto out;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    fail_set(f, "monitor", errno, "socketpair");
    goto out;
  }
  /* The user and pid namespaces come with the clone; the sandbox's init creates the others
     itself while we write its id maps (see sandbox_init). */
  int cg_fd = cgroups_clone_target(s), joined = 0;
  pid = -1;
  if (cg_fd >= 0) {
    struct clone_args ca = {.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_INTO_CGROUP,
                            .exit_signal = SIGCHLD,
                            .cgroup = (unsigned long long)cg_fd};
    pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
    joined = pid >= 0; /* on failure (older kernel) fall back to clone and a migration */
    (void)close(cg_fd);
  }
  if (pid < 0) pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0) {
    fail_set(f, "namespaces", errno, "clone with new user and pid namespaces");
    goto out;
  }
  if (pid == 0) {
    (void)close(sv[0]);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    sandbox_init(s, sv[1], o->status_fd, prog);
  }
  (void)close(sv[1]);
  sv[1] = -1;
  if (ids_write_maps(s, pid, f) || (!joined && cgroups_join(s, pid, f)) || open_host_trees(s, pid, trees, &ntrees, f))
    goto kill_child;
  if (send_msg(sv[0], MSG_GO, NULL, 0, trees, ntrees) < 0) {
    fail_set(f, "monitor", errno, "start sandbox");
    goto kill_child;
  }
  for (size_t i = 0; i < ntrees; i++) (void)close(trees[i]);
  ntrees = 0;
  {
    struct buf b = {0};
    if (buf_printf(&b, "{\"type\":\"started\",\"pid\":%d,\"id_base\":%lu}", (int)pid, s->uid_map[0].outside) == 0)
      (void)status_line(o->status_fd, &b);
    buf_free(&b);
  }
  if (s->exec_socket) {
    if ((exec_fd = execserver_listen(s->exec_socket, f)) < 0) goto kill_child;
    exec_bound = 1;
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
      fail_set(f, "exec-server", errno, "pipe");
      goto kill_child;
    }
    exec_server = execserver_start(s, exec_fd, pid, ready[0], f);
    (void)close(ready[0]);
    oc.ready_fd = ready[1];
    if (exec_server < 0) goto kill_child;
    /* only the server holds the socket: should it die, a caller's connect is refused (and it falls
       back to a spawned helper) instead of waiting in a backlog nobody accepts from */
    (void)close(exec_fd);
    exec_fd = -1;
  }
  if (supervise(s, pid, sv[0], sigfd, &oc, f)) goto kill_child;
  pid = -1;
  if (!oc.ready) {
    /* init failed while building the sandbox and reported why on the status descriptor */
    if (oc.killed_by) fail_set(f, "monitor", 0, "terminated by signal %d during setup", oc.killed_by);
    else if (oc.timed_out) fail_set(f, "monitor", 0, "timed out during setup");
    else f->stage = NULL;
    goto out;
  }
  if (o->list_changes && oc.scratch_fd >= 0) {
    const char *lower = NULL;
    bool workspace = false; /* an overlay on lower, or a --scratch-upper one with nothing below */
    for (size_t i = 0; i < s->n_ops; i++) {
      if (s->ops[i].kind == M_OVERLAY) lower = s->ops[i].a;
      workspace |= s->ops[i].kind == M_OVERLAY || s->ops[i].kind == M_SCRATCH_UPPER;
    }
    if (workspace && list_changes(oc.scratch_fd, lower, o->status_fd) < 0) {
      struct fail lf = {0};
      fail_set(&lf, "changes", errno, "list workspace changes");
      report_fail(o->status_fd, &lf);
    }
  }
  if (oc.scratch_fd >= 0) {
    /* a full scratch layer explains many failures (ENOSPC in /tmp or the workspace) */
    struct statfs sf;
    if (fstatfs(oc.scratch_fd, &sf) == 0) {
      oc.has_disk = 1;
      oc.disk_full = sf.f_bavail == 0 || sf.f_bfree == 0;
    }
  }
  rc = report_exit(o->status_fd, s, &oc, now_ms() - t0);
  goto out;
kill_child:
  if (pid > 0) {
    (void)kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
out:
  for (size_t i = 0; i < ntrees; i++) (void)close(trees[i]);
  if (exec_server > 0) { /* it holds the sandbox's cgroups: gone before they are removed */
    (void)kill(exec_server, SIGKILL);
    while (waitpid(exec_server, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  if (exec_fd >= 0) (void)close(exec_fd);
  if (oc.ready_fd >= 0) (void)close(oc.ready_fd);
  if (exec_bound) (void)unlink(s->exec_socket);
  cgroups_remove(s, created);
  if (sv[0] >= 0) (void)close(sv[0]);
  if (rc >= 0 && o->hold_fd >= 0) {
    /* Keep the scratch tmpfs reachable (/proc/<pid>/fd/<scratch_fd>) until the caller lets go. */
    char c;
    while (read(o->hold_fd, &c, 1) < 0 && errno == EINTR) {
    }
  }
  if (oc.scratch_fd >= 0) (void)close(oc.scratch_fd);
  if (oc.egress_fd >= 0) (void)close(oc.egress_fd);
  return rc;
}

int main(int argc, char **argv) {
  struct fail f = {0};
  struct options o;
  struct spec s;
  char **tokens = NULL, *seccomp = NULL;
  size_t n = 0, seccomp_len = 0;
  int first = argc;
  if (argc == 3 && !strcmp(argv[1], "--launcher")) return launcher_main(argv[2]);
  if (argc == 2 && !strcmp(argv[1], "--version")) {
    printf("{\"name\":\"bkg-helper\",\"protocol\":" BKG_HELPER_VERSION "}\n");
    return 0;
  }
  memset(&s, 0, sizeof s);
  (void)signal(SIGPIPE, SIG_IGN); /* a reader that went away must not kill the monitor */
  if (parse_options(argc, argv, &o, &first, &f)) goto fail;
  if (o.changes_of) {
    int scratch = open(o.changes_of, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (scratch < 0 || list_changes(scratch, o.changes_lower, 1) < 0) {
      fail_set(&f, "changes", errno, "list changes of %s", o.changes_of);
      goto fail;
    }
    return 0;
  }
  if (o.take_egress_of) {
    if (egress_take(o.take_egress_of, (unsigned short)o.take_egress_port, o.ipc_fd, &f)) goto fail;
    /* the caller closes the channel once it holds the socket; leaving sooner could lose the message */
    struct pollfd p = {o.ipc_fd, POLLIN, 0};
    char drain[256];
    while (poll(&p, 1, 5000) > 0 && read(o.ipc_fd, drain, sizeof drain) > 0) {
    }
    return 0;
  }
  if (o.save_of) {
    if (persist_save(o.save_of, o.save_to, o.save_link, &f)) goto fail;
    return 0;
  }
  if (load_tokens(&o, argc, argv, first, &tokens, &n, &f) || spec_parse(&s, tokens, n, &f)) goto fail;
  if (o.seccomp_fd >= 0) {
    if (read_all(o.seccomp_fd, MAX_SECCOMP + 1, &seccomp, &seccomp_len) < 0) {
      fail_set(&f, "seccomp", errno, "read program");
      goto fail;
    }
    (void)close(o.seccomp_fd);
    if (seccomp_len == 0 || seccomp_len % 8 || seccomp_len > MAX_SECCOMP) {
      fail_set(&f, "seccomp", EINVAL, "program must be 1..4096 8-byte instructions");
      goto fail;
    }
  }
  struct seccomp_prog prog = {(const unsigned char *)seccomp, seccomp_len};
  /* a claimed id range stays ours while this process lives (the sandbox's init closes its copy) */
  if (!o.exec_into && s.pool_dir && ids_claim(&s, &f) < 0) goto fail;
  int rc = o.exec_into ? exec_into(&s, o.exec_into, o.status_fd, o.control_fd, &prog, &f) : run(&s, &o, &prog, &f);
  if (rc >= 0) return rc;
fail:
  if (f.stage) report_fail(o.status_fd, &f);
  return BKG_SETUP_FAILED;
}
