/* bkg-helper: change listing. Overlay marks deletions with whiteouts (0:0 character devices) and
   directories that replaced a lower one with the user.overlay.opaque xattr (userxattr mode). */
#define _GNU_SOURCE
#include "changes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util.h"

#define MAX_DEPTH 64

static const char *file_type(mode_t m) {
  return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" : "other";
}

static int emit(int status_fd, const char *path, const char *kind, const char *type) {
  struct buf b = {0};
  int rc = buf_puts(&b, "{\"type\":\"change\",\"path\":");
  rc = rc ? rc : buf_json_string(&b, path, strlen(path));
  rc = rc ? rc : buf_printf(&b, ",\"kind\":\"%s\",\"file_type\":\"%s\"}", kind, type);
  rc = rc ? rc : status_line(status_fd, &b);
  buf_free(&b);
  return rc;
}

static int is_opaque(int dirfd) {
  char v[4];
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", dirfd);
  ssize_t n = getxattr(path, "user.overlay.opaque", v, sizeof v);
  return n > 0 && v[0] == 'y';
}

/* Whether two regular files (same size, checked by the caller) have the same bytes; any error
   counts as a difference. */
static int same_content(int upper, int lower, const char *name) {
  static char a[65536], b[65536];
  int fa = openat(upper, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  int fb = fa < 0 ? -1 : openat(lower, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  struct stat sa, sb;
  int same = fb >= 0 && fstat(fa, &sa) == 0 && fstat(fb, &sb) == 0 && S_ISREG(sa.st_mode) && S_ISREG(sb.st_mode);
  while (same) {
    ssize_t n = read(fa, a, sizeof a);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      same = 0;
      break;
    }
    /* the same number of bytes from the other file, or a difference */
    ssize_t got = 0;
    while (got < n) {
      ssize_t m = read(fb, b + got, (size_t)(n - got));
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) break;
      got += m;
    }
    if (got != n || memcmp(a, b, (size_t)n)) same = 0;
    if (n == 0) { /* end of the first: the second must end too */
      char c;
      ssize_t m;
      while ((m = read(fb, &c, 1)) < 0 && errno == EINTR) {
      }
      if (m != 0) same = 0;
      break;
    }
  }
  if (fa >= 0) (void)close(fa);
  if (fb >= 0) (void)close(fb);
  return same;
}

/* Whether an upper entry is only a copy of its lower counterpart (copied up, or written back by
   the caller): a regular file with the same permission bits, size and bytes, or a symlink with the
   same target. */
static int unchanged(int upper, int lower, const char *name, const struct stat *st, const struct stat *ls) {
  if (S_ISREG(st->st_mode) && S_ISREG(ls->st_mode))
    return (st->st_mode & 07777) == (ls->st_mode & 07777) && st->st_size == ls->st_size && same_content(upper, lower, name);
  if (S_ISLNK(st->st_mode) && S_ISLNK(ls->st_mode)) {
    char a[4097], b[4097];
    ssize_t na = readlinkat(upper, name, a, sizeof a), nb = readlinkat(lower, name, b, sizeof b);
    return na >= 0 && na == nb && (size_t)na < sizeof a && !memcmp(a, b, (size_t)na);
  }
  return 0;
}

/* A directory stream over a copy of dirfd, rewound (the caller keeps dirfd). */
static DIR *open_stream(int dirfd) {
  int fd = dup(dirfd);
  if (fd < 0) return NULL;
  DIR *d = fdopendir(fd);
  if (!d) {
    (void)close(fd);
    return NULL;
  }
  rewinddir(d);
  return d;
}

/* Lower entries hidden by an opaque directory are deletions. */
static int emit_hidden(int upper, int lower, const char *rel, int status_fd) {
  DIR *d = open_stream(lower);
  if (!d) return -1;
  char path[4096];
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st, ls;
    if (fstatat(upper, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
    if (fstatat(lower, e->d_name, &ls, AT_SYMLINK_NOFOLLOW) < 0) continue;
    snprintf(path, sizeof path, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
    rc = emit(status_fd, path, "deleted", file_type(ls.st_mode));
  }
  (void)closedir(d);
  return rc;
}

static int walk(int upper, int lower, const char *rel, int depth, int status_fd) {
  if (depth > MAX_DEPTH) return 0;
  DIR *d = open_stream(upper);
  if (!d) return -1;
  if (lower >= 0 && is_opaque(upper) && emit_hidden(upper, lower, rel, status_fd) < 0) {
    (void)closedir(d);
    return -1;
  }
  char path[4096];
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st, ls;
    if (fstatat(upper, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if ((size_t)snprintf(path, sizeof path, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= sizeof path) continue;
    int in_lower = lower >= 0 && fstatat(lower, e->d_name, &ls, AT_SYMLINK_NOFOLLOW) == 0;
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      if (in_lower) rc = emit(status_fd, path, "deleted", file_type(ls.st_mode));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      int same_dir = in_lower && S_ISDIR(ls.st_mode);
      if (!same_dir) rc = emit(status_fd, path, in_lower ? "modified" : "added", "dir");
      int sub = openat(upper, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int lsub = same_dir ? openat(lower, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
      if (rc == 0 && sub >= 0) rc = walk(sub, lsub, path, depth + 1, status_fd);
      if (sub >= 0) (void)close(sub);
      if (lsub >= 0) (void)close(lsub);
      continue;
    }
    if (in_lower && unchanged(upper, lower, e->d_name, &st, &ls)) continue;
    rc = emit(status_fd, path, in_lower ? "modified" : "added", file_type(st.st_mode));
  }
  (void)closedir(d);
  return rc;
}

int list_changes(int scratch_fd, const char *lower, int status_fd) {
  int upper = openat(scratch_fd, "upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (upper < 0) return -1;
  int low = lower ? open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  int rc = walk(upper, low, "", 0, status_fd);
  (void)close(upper);
  if (low >= 0) (void)close(low);
  return rc;
}
