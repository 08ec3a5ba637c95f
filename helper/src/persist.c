/* bkg-helper: copying a scratch layer (overlay upper, /tmp, home) between a running sandbox and a
   host directory. The tree being read was written by untrusted code: every lookup is relative to a
   directory descriptor we hold, nothing is followed, and every entry is created by us inside
   directories we created (or the restore target we opened). */
#define _GNU_SOURCE
#include "persist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_DEPTH 64
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

struct copier {
  struct fail *f;
  const char *stage;
  int link;                 /* --save-linked: hard-link regular files (the source is an immutable saved tree) */
  size_t path_len;
  char path[PATH_MAX];      /* the entry being copied, relative to the tree's root (for messages) */
  char names[65536];        /* XATTR_LIST_MAX */
  char value[65536];        /* XATTR_SIZE_MAX */
  char data[65536];         /* file contents */
  char target[PATH_MAX + 1]; /* symlink target */
};

static int fail_at(struct copier *c, int err, const char *what) {
  return fail_set(c->f, c->stage, err, "%s %s", what, c->path_len ? c->path : ".");
}

static int push(struct copier *c, const char *name, size_t *saved) {
  size_t n = strlen(name), at = c->path_len ? c->path_len + 1 : 0;
  *saved = c->path_len;
  if (at + n >= sizeof c->path) return fail_set(c->f, c->stage, ENAMETOOLONG, "path under %s", c->path);
  if (c->path_len) c->path[c->path_len] = '/';
  memcpy(c->path + at, name, n + 1);
  c->path_len = at + n;
  return 0;
}

static void pop(struct copier *c, size_t saved) {
  c->path_len = saved;
  c->path[saved] = '\0';
}

static int copy_xattrs(struct copier *c, int src, int dst) {
  ssize_t n = flistxattr(src, c->names, sizeof c->names);
  if (n < 0) return errno == ENOTSUP ? 0 : fail_at(c, errno, "list xattrs of");
  for (char *k = c->names; k < c->names + n; k += strlen(k) + 1) {
    if (strncmp(k, "user.", 5)) continue;
    ssize_t v = fgetxattr(src, k, c->value, sizeof c->value);
    if (v < 0 && errno == ENODATA) continue; /* removed meanwhile */
    if (v < 0) return fail_at(c, errno, "read xattr of");
    if (fsetxattr(dst, k, c->value, (size_t)v, 0) < 0) return fail_at(c, errno, "set xattr of");
  }
  return 0;
}

/* Owner before mode (a chown clears setuid/setgid), times last. */
static int meta_fd(struct copier *c, int src, int dst, const struct stat *st) {
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  if (copy_xattrs(c, src, dst)) return -1;
  if (fchown(dst, st->st_uid, st->st_gid) < 0) return fail_at(c, errno, "chown");
  if (fchmod(dst, st->st_mode & 07777) < 0) return fail_at(c, errno, "chmod");
  if (futimens(dst, ts) < 0) return fail_at(c, errno, "set times of");
  return 0;
}

/* For entries without a descriptor (symlinks, fifos, whiteouts) that we just created in dst. */
static int meta_at(struct copier *c, int dst, const char *name, const struct stat *st) {
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  if (fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0) return fail_at(c, errno, "chown");
  if (!S_ISLNK(st->st_mode) && fchmodat(dst, name, st->st_mode & 07777, 0) < 0) return fail_at(c, errno, "chmod");
  if (utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0) return fail_at(c, errno, "set times of");
  return 0;
}

static int copy_file(struct copier *c, int src, int dst, const char *name) {
  struct stat st;
  int rc = -1, out = -1;
  /* a saved tree is never written in place (a save replaces it whole), so its files can be shared;
     across file systems, or where the kernel refuses the link, fall back to a copy */
  if (c->link) {
    if (linkat(src, name, dst, name, 0) == 0) return 0;
    if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != EACCES) return fail_at(c, errno, "link");
  }
  /* O_NONBLOCK: if the entry was swapped for a fifo since we looked, do not hang on it */
  int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (in < 0) return fail_at(c, errno, "open");
  if (fstat(in, &st) < 0) {
    fail_at(c, errno, "stat");
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    fail_at(c, EAGAIN, "changed while copying:");
    goto out;
  }
  out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    fail_at(c, errno, "create");
    goto out;
  }
  for (;;) { /* until EOF: the size may change while we read */
    ssize_t n = read(in, c->data, sizeof c->data);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fail_at(c, errno, "read");
      goto out;
    }
    if (n == 0) break;
    if (write_all(out, c->data, (size_t)n) < 0) {
      fail_at(c, errno, "write");
      goto out;
    }
  }
  rc = meta_fd(c, in, out, &st);
out:
  if (out >= 0 && close(out) < 0 && rc == 0) rc = fail_at(c, errno, "close");
  (void)close(in);
  return rc;
}

static int copy_dir(struct copier *c, int src, int dst, const char *skip, int depth);

static int copy_subdir(struct copier *c, int src, int dst, const char *name, int depth) {
  struct stat st;
  int rc = -1, out = -1;
  if (depth >= MAX_DEPTH) return fail_at(c, ELOOP, "more than 64 directory levels at");
  int in = openat(src, name, DIR_FLAGS);
  if (in < 0) return fail_at(c, errno, "open");
  if (fstat(in, &st) < 0) {
    fail_at(c, errno, "stat");
    goto out;
  }
  if (mkdirat(dst, name, 0700) < 0 && errno != EEXIST) { /* an existing directory is merged */
    fail_at(c, errno, "mkdir");
    goto out;
  }
  out = openat(dst, name, DIR_FLAGS);
  if (out < 0) {
    fail_at(c, errno, "open the copy of");
    goto out;
  }
  if (copy_dir(c, in, out, NULL, depth + 1) == 0) rc = meta_fd(c, in, out, &st);
out:
  if (out >= 0) (void)close(out);
  (void)close(in);
  return rc;
}

static int copy_entry(struct copier *c, int src, int dst, const char *name, int depth) {
  struct stat st;
  if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : fail_at(c, errno, "stat");
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      return copy_file(c, src, dst, name);
    case S_IFDIR:
      return copy_subdir(c, src, dst, name, depth);
    case S_IFLNK: {
      ssize_t n = readlinkat(src, name, c->target, sizeof c->target);
      if (n < 0) return fail_at(c, errno, "readlink");
      if ((size_t)n >= sizeof c->target) return fail_at(c, ENAMETOOLONG, "readlink");
      c->target[n] = '\0';
      if (symlinkat(c->target, dst, name) < 0) return fail_at(c, errno, "symlink");
      return meta_at(c, dst, name, &st);
    }
    case S_IFIFO:
      if (mkfifoat(dst, name, 0600) < 0) return fail_at(c, errno, "mkfifo");
      return meta_at(c, dst, name, &st);
    case S_IFCHR:
      if (st.st_rdev != makedev(0, 0)) return 0; /* only overlay whiteouts */
      if (mknodat(dst, name, S_IFCHR | 0600, makedev(0, 0)) < 0) return fail_at(c, errno, "create whiteout");
      return meta_at(c, dst, name, &st);
    default:
      return 0; /* sockets, block devices */
  }
}

static int copy_dir(struct copier *c, int src, int dst, const char *skip, int depth) {
  int fd = fcntl(src, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return fail_at(c, errno, "dup");
  DIR *d = fdopendir(fd);
  if (!d) {
    int saved = errno;
    (void)close(fd);
    return fail_at(c, saved, "read directory");
  }
  rewinddir(d);
  int rc = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      if (errno) rc = fail_at(c, errno, "read directory");
      break;
    }
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || (skip && !strcmp(e->d_name, skip))) continue;
    size_t saved;
    if (push(c, e->d_name, &saved)) {
      rc = -1;
      break;
    }
    rc = copy_entry(c, src, dst, e->d_name, depth);
    pop(c, saved);
    if (rc) break;
  }
  (void)closedir(d);
  return rc;
}

static struct copier *copier_new(const char *stage, struct fail *f) {
  struct copier *c = calloc(1, sizeof *c);
  if (!c) {
    fail_set(f, stage, ENOMEM, "copy buffers");
    return NULL;
  }
  c->f = f;
  c->stage = stage;
  return c;
}

int persist_copy(int src, int dst, const char *skip, const char *stage, struct fail *f) {
  struct copier *c = copier_new(stage, f);
  if (!c) return -1;
  int rc = copy_dir(c, src, dst, skip, 0);
  free(c);
  return rc;
}

int persist_save(const char *from, const char *to, int link, struct fail *f) {
  struct stat st, wst;
  int dst = -1, rc = -1;
  /* from is a trusted path (usually /proc/PID/fd/N, a link that must be followed) */
  int src = open(from, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (src < 0) return fail_set(f, "save", errno, "open %s", from);
  struct copier *c = copier_new("save", f);
  if (!c) goto out;
  c->link = link;
  if (fstat(src, &st) < 0) {
    fail_set(f, "save", errno, "stat %s", from);
    goto out;
  }
  if (mkdir(to, 0700) < 0) {
    fail_set(f, "save", errno, "create %s", to);
    goto out;
  }
  dst = open(to, DIR_FLAGS);
  if (dst < 0) {
    fail_set(f, "save", errno, "open %s", to);
    goto out;
  }
  if (copy_dir(c, src, dst, "work", 0)) goto out;
  /* the overlay workdir is the kernel's scratch space: keep only an empty directory */
  if (fstatat(src, "work", &wst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(wst.st_mode)) {
    strcpy(c->path, "work");
    c->path_len = 4;
    if (mkdirat(dst, "work", 0700) < 0) {
      fail_at(c, errno, "mkdir");
      goto out;
    }
    if (meta_at(c, dst, "work", &wst)) goto out;
    pop(c, 0);
  }
  rc = meta_fd(c, src, dst, &st);
out:
  free(c);
  if (dst >= 0) (void)close(dst);
  (void)close(src);
  return rc;
}
