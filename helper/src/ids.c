/* bkg-helper: the sandbox's identities (see ids.h). */
#define _GNU_SOURCE
#include "ids.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLAIM_TRIES 64
/* Most claims try the first slots only, so the lock files stay as few as the sandboxes that run at once. */
#define NEAR_SLOTS 4096
#define NEAR_TRIES 48

int ids_claim(struct spec *s, struct fail *f) {
  for (int i = 0; i < CLAIM_TRIES; i++) {
    unsigned int r;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) return fail_set(f, "identity", errno, "getrandom");
    unsigned long window = i < NEAR_TRIES && s->pool_slots > NEAR_SLOTS ? NEAR_SLOTS : s->pool_slots;
    unsigned long slot = r % window;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%lu", s->pool_dir, slot) >= sizeof path)
      return fail_set(f, "identity", ENAMETOOLONG, "id pool path");
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return fail_set(f, "identity", errno, "open %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      unsigned long base = s->pool_start + slot * s->pool_count;
      s->uid_map[0] = s->gid_map[0] = (struct id_map){0, base, s->pool_count};
      s->n_uid_map = s->n_gid_map = 1;
      return fd;
    }
    int err = errno;
    (void)close(fd);
    if (err != EWOULDBLOCK) return fail_set(f, "identity", err, "lock %s", path);
  }
  return fail_set(f, "identity", EAGAIN, "no free id range in %s after %d tries", s->pool_dir, CLAIM_TRIES);
}

static int map_text(const struct id_map *maps, size_t n, unsigned long shift, char *out, size_t size) {
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    int w = snprintf(out + off, size - off, "%lu %lu %lu\n", maps[i].inside + shift, maps[i].outside, maps[i].count);
    if (w < 0 || (size_t)w >= size - off) return -1;
    off += (size_t)w;
  }
  return 0;
}

static int write_map_files(pid_t pid, const struct spec *s, unsigned long uid_shift, unsigned long gid_shift,
                           struct fail *f) {
  char path[64], line[512];
  const struct id_map *maps[2] = {s->uid_map, s->gid_map};
  size_t counts[2] = {s->n_uid_map, s->n_gid_map};
  unsigned long shifts[2] = {uid_shift, gid_shift};
  static const char *const names[2] = {"uid_map", "gid_map"};
  for (int m = 0; m < 2; m++) {
    if (map_text(maps[m], counts[m], shifts[m], line, sizeof line) < 0)
      return fail_set(f, "identity", E2BIG, "%s too long", names[m]);
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, names[m]);
    if (write_file(path, line) < 0) return fail_set(f, "identity", errno, "write %s", names[m]);
  }
  return 0;
}

/* newuidmap PID IN OUT COUNT...: the setuid tool checks the ranges against /etc/subuid and writes them. */
static int run_newidmap(const char *tool, pid_t pid, const struct id_map *maps, size_t n, struct fail *f) {
  char nums[1 + 3 * MAX_MAPS][24];
  char *argv[3 + 3 * MAX_MAPS];
  size_t k = 0;
  argv[k++] = (char *)tool;
  snprintf(nums[0], sizeof nums[0], "%d", (int)pid);
  argv[k++] = nums[0];
  for (size_t i = 0; i < n; i++) {
    unsigned long v[3] = {maps[i].inside, maps[i].outside, maps[i].count};
    for (int j = 0; j < 3; j++) {
      snprintf(nums[1 + 3 * i + j], sizeof nums[0], "%lu", v[j]);
      argv[k++] = nums[1 + 3 * i + j];
    }
  }
  argv[k] = NULL;
  char *envp[] = {NULL};
  pid_t child = fork();
  if (child < 0) return fail_set(f, "identity", errno, "fork for %s", tool);
  if (child == 0) {
    execve(tool, argv, envp);
    _exit(127);
  }
  int st;
  while (waitpid(child, &st, 0) < 0)
    if (errno != EINTR) return fail_set(f, "identity", errno, "wait for %s", tool);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return fail_set(f, "identity", EPERM, "%s refused the mapping (exit %d): check /etc/subuid and /etc/subgid", tool,
                    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  return 0;
}

int ids_write_maps(const struct spec *s, pid_t pid, struct fail *f) {
  if (s->setgroups_deny) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
    if (write_file(path, "deny") < 0) return fail_set(f, "identity", errno, "setgroups deny");
  }
  if (!s->newuidmap) return write_map_files(pid, s, 0, 0, f);
  if (run_newidmap(s->newuidmap, pid, s->uid_map, s->n_uid_map, f)) return -1;
  return run_newidmap(s->newgidmap, pid, s->gid_map, s->n_gid_map, f);
}

int ids_shift_userns(const struct spec *s, unsigned long old_uid, unsigned long old_gid, struct fail *f) {
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) < 0) return fail_set(f, "restore", errno, "pipe");
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0) {
    int err = errno;
    (void)close(gate[0]);
    (void)close(gate[1]);
    return fail_set(f, "restore", err, "clone a user namespace");
  }
  if (pid == 0) { /* only exists to own the namespace until the parent has opened it */
    char c;
    (void)close(gate[1]);
    while (read(gate[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  (void)close(gate[0]);
  int fd = -1;
  if (write_map_files(pid, s, old_uid, old_gid, f) == 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail_set(f, "restore", errno, "open the shifting user namespace");
  } else {
    f->stage = "restore";
  }
  (void)close(gate[1]);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  return fd;
}
