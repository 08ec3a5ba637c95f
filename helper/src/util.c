/* bkg-helper: shared helpers. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fail_set(struct fail *f, const char *stage, int errnum, const char *fmt, ...) {
  va_list ap;
  f->stage = stage;
  f->errnum = errnum;
  va_start(ap, fmt);
  vsnprintf(f->message, sizeof f->message, fmt, ap);
  va_end(ap);
  if (errnum) {
    size_t l = strlen(f->message);
    snprintf(f->message + l, sizeof f->message - l, ": %s", strerror(errnum));
  }
  return -1;
}

int buf_append(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int buf_puts(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_printf(struct buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp) return -1;
  return buf_append(b, tmp, (size_t)n);
}

int buf_json_string(struct buf *b, const char *s, size_t n) {
  if (buf_append(b, "\"", 1)) return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      if (buf_append(b, esc, 2)) return -1;
    } else if (c == '\n') {
      if (buf_append(b, "\\n", 2)) return -1;
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      if (buf_append(b, esc, 6)) return -1;
    } else if (buf_append(b, (const char *)&s[i], 1)) {
      return -1;
    }
  }
  return buf_append(b, "\"", 1);
}

void buf_free(struct buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

int write_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int read_all(int fd, size_t max, char **out, size_t *out_len) {
  size_t cap = 4096, len = 0;
  char *data = malloc(cap);
  if (!data) return -1;
  for (;;) {
    if (len + 1 >= cap) {
      if (cap >= max) {
        free(data);
        errno = E2BIG;
        return -1;
      }
      cap *= 2;
      char *d = realloc(data, cap);
      if (!d) {
        free(data);
        return -1;
      }
      data = d;
    }
    ssize_t r = read(fd, data + len, cap - len - 1);
    if (r < 0) {
      if (errno == EINTR) continue;
      free(data);
      return -1;
    }
    if (r == 0) break;
    len += (size_t)r;
  }
  data[len] = '\0';
  *out = data;
  *out_len = len;
  return 0;
}

int write_file(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = write_all(fd, value, strlen(value));
  int saved = errno;
  if (close(fd) < 0 && rc == 0) return -1;
  errno = saved;
  return rc;
}

int mkdir_p(const char *path, mode_t mode) {
  char tmp[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof tmp) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(tmp, path, n + 1);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, mode) < 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(tmp, mode) < 0 && errno != EEXIST) return -1;
  return 0;
}

int touch_p(const char *path) {
  char parent[4096];
  size_t n = strlen(path);
  if (n >= sizeof parent) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(parent, path, n + 1);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    if (mkdir_p(parent, 0755) < 0) return -1;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return errno == EEXIST ? 0 : -1;
  return close(fd);
}

int status_line(int fd, struct buf *b) {
  if (fd < 0) return 0;
  if (buf_append(b, "\n", 1)) return -1;
  return write_all(fd, b->data, b->len);
}

void report_fail(int status_fd, const struct fail *f) {
  struct buf b = {0};
  const char *stage = f->stage ? f->stage : "setup";
  if (buf_puts(&b, "{\"type\":\"error\",\"stage\":") == 0 && buf_json_string(&b, stage, strlen(stage)) == 0 &&
      buf_printf(&b, ",\"errno\":%d,\"message\":", f->errnum) == 0 &&
      buf_json_string(&b, f->message, strlen(f->message)) == 0 && buf_puts(&b, "}") == 0) {
    if (status_fd >= 0)
      (void)status_line(status_fd, &b);
    else
      (void)!write(2, b.data, b.len), (void)!write(2, "\n", 1);
  }
  buf_free(&b);
}
