/* bkg-helper: cgroup mechanism. Policy (which files, which values) comes from the spec. */
#define _GNU_SOURCE
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

int cgroups_create(const struct spec *s, size_t *created, struct fail *f) {
  *created = 0;
  for (size_t i = 0; i < s->n_cgroups; i++) {
    if (mkdir(s->cgroups[i], 0755) < 0) return fail_set(f, "cgroup", errno, "mkdir %s", s->cgroups[i]);
    (*created)++;
  }
  for (size_t i = 0; i < s->n_sets; i++)
    if (write_file(s->sets[i].key, s->sets[i].value) < 0)
      return fail_set(f, "cgroup", errno, "write '%s' to %s", s->sets[i].value, s->sets[i].key);
  return 0;
}

int cgroups_join(const struct spec *s, pid_t pid, struct fail *f) {
  char path[4096], val[32];
  snprintf(val, sizeof val, "%d", (int)pid);
  for (size_t i = 0; i < s->n_cgroups; i++) {
    if ((size_t)snprintf(path, sizeof path, "%s/cgroup.procs", s->cgroups[i]) >= sizeof path)
      return fail_set(f, "cgroup", ENAMETOOLONG, "cgroup path");
    if (write_file(path, val) < 0) return fail_set(f, "cgroup", errno, "join %s", s->cgroups[i]);
  }
  return 0;
}

int cgroups_clone_target(const struct spec *s) {
  struct statfs sf;
  if (s->n_cgroups != 1 || statfs(s->cgroups[0], &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC) return -1;
  return open(s->cgroups[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
}

int cgroups_report(const struct spec *s, struct buf *b) {
  if (buf_puts(b, ",\"files\":{")) return -1;
  for (size_t i = 0; i < s->n_reports; i++) {
    if (i && buf_puts(b, ",")) return -1;
    if (buf_json_string(b, s->reports[i].key, strlen(s->reports[i].key)) || buf_puts(b, ":")) return -1;
    int fd = open(s->reports[i].value, O_RDONLY | O_CLOEXEC);
    char data[8192];
    ssize_t n = fd < 0 ? -1 : read(fd, data, sizeof data);
    if (fd >= 0) (void)close(fd);
    if (n < 0 ? buf_puts(b, "null") : buf_json_string(b, data, (size_t)n)) return -1;
  }
  return buf_puts(b, "}");
}

void cgroups_remove(const struct spec *s, size_t created) {
  for (size_t i = created; i-- > 0;) {
    /* The sandbox's processes are all reaped by now; a memory cgroup may still be
       going offline for a moment, so retry briefly on EBUSY. */
    for (int tries = 0; tries < 200; tries++) {
      if (rmdir(s->cgroups[i]) == 0 || errno == ENOENT) break;
      if (errno != EBUSY) break;
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
  }
}
