/* bkg-helper: shared helpers (error records, JSON output, small file utilities). */
#ifndef BKG_UTIL_H
#define BKG_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#define BKG_SETUP_FAILED 125

/* A failure, filled by the function that failed and reported once at top level. */
struct fail {
  const char *stage;
  char message[512];
  int errnum;
};

int fail_set(struct fail *f, const char *stage, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Growable buffer used to build JSON lines. */
struct buf {
  char *data;
  size_t len, cap;
};

int buf_append(struct buf *b, const char *s, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_json_string(struct buf *b, const char *s, size_t n);
void buf_free(struct buf *b);

/* Write all of `n` bytes, retrying on EINTR/short writes. */
int write_all(int fd, const void *data, size_t n);
/* Read exactly `n` bytes, retrying on EINTR/short reads; -1 at an error or an early end of file. */
int read_full(int fd, void *buf, size_t n);
/* Read everything from fd until EOF into a malloc'd, NUL-terminated buffer. */
int read_all(int fd, size_t max, char **out, size_t *out_len);
/* Write a string to an existing file (cgroup knobs, /proc maps). */
int write_file(const char *path, const char *value);
/* mkdir -p, tolerant of existing directories. */
int mkdir_p(const char *path, mode_t mode);
/* Create an empty regular file (and its parents) as a bind-mount target. */
int touch_p(const char *path);

/* Emit one JSON status line on fd (no-op when fd < 0). */
int status_line(int fd, struct buf *b);
void report_fail(int status_fd, const struct fail *f);

#endif
