/* bkg-helper: filesystem construction, following bubblewrap: a tmpfs base, the host's root
   kept at /oldroot while the new root is assembled, then pivot_root into it and detach the rest. */
#define _GNU_SOURCE
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "persist.h"

#define OLDROOT "/oldroot"
#define NEWROOT "/newroot"
#define SCRATCH "/scratch"

static int sys_open_tree(int dfd, const char *path, unsigned flags) {
  return (int)syscall(SYS_open_tree, dfd, path, flags);
}
static int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags) {
  return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}
static int sys_mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *attr) {
  return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof *attr);
}
static int sys_pivot_root(const char *new_root, const char *put_old) {
  return (int)syscall(SYS_pivot_root, new_root, put_old);
}

static int join(char *out, size_t n, const char *a, const char *b) {
  if ((size_t)snprintf(out, n, "%s%s", a, b) >= n) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

/* Bind src (already prefixed) onto dst, recursively; read-only with nosuid/nodev when ro. */
static int bind_tree(const char *src, const char *dst, bool ro, bool optional, struct fail *f) {
  struct stat st;
  if (stat(src, &st) < 0) {
    if (optional && errno == ENOENT) return 0;
    return fail_set(f, "mount", errno, "bind source %s", src + strlen(OLDROOT));
  }
  if ((S_ISDIR(st.st_mode) ? mkdir_p(dst, 0755) : touch_p(dst)) < 0)
    return fail_set(f, "mount", errno, "create mount point %s", dst + strlen(NEWROOT));
  int fd = sys_open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (fd < 0) return fail_set(f, "mount", errno, "open_tree %s", src + strlen(OLDROOT));
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID | (ro ? MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV : 0)};
  int rc = 0;
  if (sys_mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) < 0)
    rc = fail_set(f, "mount", errno, "make %s read-only", dst + strlen(NEWROOT));
  else if (sys_move_mount(fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    rc = fail_set(f, "mount", errno, "attach %s", dst + strlen(NEWROOT));
  (void)close(fd);
  return rc;
}

static int mount_tmpfs(const char *dst, unsigned long flags, const char *opts, struct fail *f) {
  if (mkdir_p(dst, 0755) < 0) return fail_set(f, "mount", errno, "mkdir %s", dst);
  if (mount("tmpfs", dst, "tmpfs", flags, opts) < 0) return fail_set(f, "mount", errno, "tmpfs on %s", dst);
  return 0;
}

static int setup_dev(const char *dst, struct fail *f) {
  static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  static const char *const links[][2] = {
      {"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
      {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  char p[4096], src[64];
  if (mount_tmpfs(dst, MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k", f)) return -1;
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
    snprintf(src, sizeof src, OLDROOT "/dev/%s", nodes[i]);
    if (join(p, sizeof p, dst, "/") || join(p + strlen(p), sizeof p - strlen(p), nodes[i], "") || touch_p(p) < 0)
      return fail_set(f, "mount", errno, "create /dev/%s", nodes[i]);
    if (mount(src, p, NULL, MS_BIND, NULL) < 0) return fail_set(f, "mount", errno, "bind /dev/%s", nodes[i]);
  }
  if (join(p, sizeof p, dst, "/pts") || mkdir_p(p, 0755) < 0) return fail_set(f, "mount", errno, "mkdir /dev/pts");
  if (mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") < 0)
    return fail_set(f, "mount", errno, "devpts");
  if (join(p, sizeof p, dst, "/shm") || mkdir_p(p, 01777) < 0) return fail_set(f, "mount", errno, "mkdir /dev/shm");
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    if (join(p, sizeof p, dst, "/") || join(p + strlen(p), sizeof p - strlen(p), links[i][1], "") ||
        symlink(links[i][0], p) < 0)
      return fail_set(f, "mount", errno, "symlink /dev/%s", links[i][1]);
  }
  return 0;
}

/* Overlay option values treat ',' ':' and '\' specially; escape them. */
static int escape_opt(char *out, size_t n, const char *in) {
  size_t j = 0;
  for (; *in; in++) {
    if (j + 3 >= n) {
      errno = ENAMETOOLONG;
      return -1;
    }
    if (*in == ',' || *in == ':' || *in == '\\') out[j++] = '\\';
    out[j++] = *in;
  }
  out[j] = '\0';
  return 0;
}

static int setup_overlay(const struct mount_op *op, const char *dst, int lower_fd, struct fail *f) {
  char lower[4096], esc[8192], opts[9000];
  if (lower_fd >= 0) {
    if (mkdir("/lower", 0755) < 0) return fail_set(f, "overlay", errno, "mkdir /lower");
    if (sys_move_mount(lower_fd, "", AT_FDCWD, "/lower", MOVE_MOUNT_F_EMPTY_PATH) < 0)
      return fail_set(f, "overlay", errno, "attach idmapped workspace");
    strcpy(lower, "/lower");
  } else if (join(lower, sizeof lower, OLDROOT, op->a)) {
    return fail_set(f, "overlay", errno, "workspace path");
  }
  struct stat st;
  if (stat(lower, &st) < 0 || !S_ISDIR(st.st_mode))
    return fail_set(f, "overlay", errno ? errno : ENOTDIR, "workspace %s", op->a);
  /* The merged root takes the upper directory's attributes: mirror the workspace's. */
  if (chmod(SCRATCH "/upper", st.st_mode & 07777) < 0) return fail_set(f, "overlay", errno, "chmod upper");
  if (lower_fd >= 0 && chown(SCRATCH "/upper", st.st_uid, st.st_gid) < 0)
    return fail_set(f, "overlay", errno, "chown upper");
  if (escape_opt(esc, sizeof esc, lower) < 0) return fail_set(f, "overlay", errno, "workspace path");
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=" SCRATCH "/upper,workdir=" SCRATCH "/work,userxattr", esc);
  if (mkdir_p(dst, 0755) < 0) return fail_set(f, "overlay", errno, "mkdir %s", op->b);
  if (mount("overlay", dst, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
    return fail_set(f, "overlay", errno, "mount overlay on %s", op->b);
  return 0;
}

static int setup_scratch(const struct spec *s, int *scratch_fd, struct fail *f) {
  char opts[64];
  static const char *const dirs[] = {SCRATCH "/upper", SCRATCH "/work"};
  snprintf(opts, sizeof opts, "mode=0755,size=%llu", s->scratch_bytes);
  if (mount_tmpfs(SCRATCH, MS_NOSUID | MS_NODEV, opts, f)) return -1;
  for (size_t i = 0; i < 2; i++)
    if (mkdir(dirs[i], 0755) < 0) return fail_set(f, "mount", errno, "mkdir %s", dirs[i]);
  *scratch_fd = open(SCRATCH, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*scratch_fd < 0) return fail_set(f, "mount", errno, "open scratch");
  return 0;
}

static int attach_tree(int tree, const char *dst, const char *what, struct fail *f) {
  struct stat st;
  if (fstat(tree, &st) < 0) return fail_set(f, "mount", errno, "stat %s", what);
  if ((S_ISDIR(st.st_mode) ? mkdir_p(dst, 0755) : touch_p(dst)) < 0) return fail_set(f, "mount", errno, "create mount point %s", what);
  if (sys_move_mount(tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0) return fail_set(f, "mount", errno, "attach %s", what);
  return 0;
}

/* The saved scratch tree (opened by the monitor) into /scratch, merged with upper/ and work/ there;
   the saved work/ is left out: the overlay needs an empty workdir. */
static int restore_scratch(const struct mount_op *op, int tree, struct fail *f) {
  if (tree < 0) return fail_set(f, "restore", EBADF, "%s arrived without its tree", op->a);
  int dst = open(SCRATCH, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dst < 0) return fail_set(f, "restore", errno, "open scratch");
  int rc = persist_copy(tree, dst, "work", "restore", f);
  (void)close(dst);
  return rc;
}

/* The scratch tmpfs's directory `name` bound at dst (op->b inside). keep: created with mode, an
   existing (restored) one keeps its own; otherwise always mode (world-writable and sticky like /tmp). */
static int scratch_bind(const struct mount_op *op, const char *name, const char *dst, mode_t mode, bool keep,
                        struct fail *f) {
  char src[4096];
  if (join(src, sizeof src, SCRATCH "/", name)) return fail_set(f, "mount", errno, "scratch path");
  bool created = mkdir(src, mode) == 0;
  if (!created && errno != EEXIST) return fail_set(f, "mount", errno, "mkdir scratch %s", name);
  struct stat st;
  if (lstat(src, &st) < 0) return fail_set(f, "mount", errno, "stat scratch %s", name);
  if (!S_ISDIR(st.st_mode)) return fail_set(f, "mount", ENOTDIR, "scratch %s", name); /* never a restored symlink */
  if ((created || !keep) && chmod(src, mode) < 0) return fail_set(f, "mount", errno, "chmod scratch %s", name);
  if (mkdir_p(dst, 0755) < 0) return fail_set(f, "mount", errno, "mkdir %s", op->b);
  if (mount(src, dst, NULL, MS_BIND, NULL) < 0) return fail_set(f, "mount", errno, "bind scratch on %s", op->b);
  return 0;
}

static int apply_op(const struct spec *s, const struct mount_op *op, int tree, struct fail *f) {
  char dst[4096], src[4096];
  if (op->kind == M_RESTORE) return restore_scratch(op, tree, f);
  if (join(dst, sizeof dst, NEWROOT, op->b)) return fail_set(f, "mount", errno, "path %s", op->b);
  switch (op->kind) {
    case M_RO_BIND:
    case M_BIND:
      if (join(src, sizeof src, OLDROOT, op->a)) return fail_set(f, "mount", errno, "path %s", op->a);
      return bind_tree(src, dst, op->kind == M_RO_BIND, op->optional, f);
    case M_DIR:
      if (mkdir_p(dst, 0755) < 0) return fail_set(f, "mount", errno, "mkdir %s", op->b);
      return 0;
    case M_SYMLINK: {
      char *slash = strrchr(dst, '/');
      *slash = '\0';
      int rc = mkdir_p(dst, 0755);
      *slash = '/';
      if (rc < 0 || symlink(op->a, dst) < 0) return fail_set(f, "mount", errno, "symlink %s", op->b);
      return 0;
    }
    case M_TMPFS: {
      char opts[64];
      snprintf(opts, sizeof opts, "mode=1777,size=%s", op->a);
      return mount_tmpfs(dst, MS_NOSUID | MS_NODEV, opts, f);
    }
    case M_PROC:
      if (mkdir_p(dst, 0755) < 0) return fail_set(f, "mount", errno, "mkdir %s", op->b);
      if (mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return fail_set(f, "mount", errno, "proc on %s", op->b);
      return 0;
    case M_DEV:
      return setup_dev(dst, f);
    case M_SCRATCH_DIR:
      return scratch_bind(op, op->a, dst, 01777, false, f);
    case M_SCRATCH_HOME:
      return scratch_bind(op, op->a, dst, 0700, true, f);
    case M_SCRATCH_UPPER: /* setup_scratch made it 0755; a restored one keeps its mode */
      return scratch_bind(op, "upper", dst, 0755, true, f);
    case M_RESTORE:
      break; /* handled above */
    case M_OVERLAY:
      return setup_overlay(op, dst, tree, f);
    case M_HOST_BIND:
      if (tree < 0) return fail_set(f, "mount", EBADF, "host bind %s arrived without its tree", op->a);
      return attach_tree(tree, dst, op->b, f);
  }
  (void)s;
  return fail_set(f, "mount", EINVAL, "unknown mount operation");
}

int build_root(const struct spec *s, const int *trees, int *scratch_fd, struct fail *f) {
  *scratch_fd = -1;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return fail_set(f, "mount", errno, "make / private");
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
    return fail_set(f, "mount", errno, "base tmpfs");
  if (mkdir("/tmp" OLDROOT, 0755) < 0 || mkdir("/tmp" NEWROOT, 0755) < 0)
    return fail_set(f, "mount", errno, "base directories");
  if (sys_pivot_root("/tmp", "/tmp" OLDROOT) < 0) return fail_set(f, "pivot_root", errno, "into base");
  if (chdir("/") < 0) return fail_set(f, "pivot_root", errno, "chdir /");
  if (mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
    return fail_set(f, "mount", errno, "root tmpfs");
  if (s->scratch_bytes && setup_scratch(s, scratch_fd, f)) return -1;
  for (size_t i = 0; i < s->n_ops; i++)
    if (apply_op(s, &s->ops[i], trees[i], f)) return -1;
  if (chdir(NEWROOT) < 0) return fail_set(f, "pivot_root", errno, "chdir new root");
  if (sys_pivot_root(".", ".") < 0) return fail_set(f, "pivot_root", errno, "into new root");
  if (umount2(".", MNT_DETACH) < 0) return fail_set(f, "pivot_root", errno, "detach host root");
  if (chdir("/") < 0) return fail_set(f, "pivot_root", errno, "chdir /");
  if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
    return fail_set(f, "mount", errno, "make / read-only");
  return 0;
}
