/* bkg-helper: parse the declarative spec. Unknown tokens are errors, never ignored. */
#define _GNU_SOURCE
#include "spec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_ull(const char *s, unsigned long long *out) {
  char *end;
  if (!s || !*s || *s == '-') return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

static int need(size_t i, size_t k, size_t n, const char *opt, struct fail *f) {
  if (i + k >= n) return fail_set(f, "spec", EINVAL, "%s needs %zu argument(s)", opt, k);
  return 0;
}

static int abs_path(const char *p, const char *opt, struct fail *f) {
  if (!p || p[0] != '/') return fail_set(f, "spec", EINVAL, "%s: '%s' is not an absolute path", opt, p ? p : "");
  for (const char *c = p; *c; c++)
    if (c[0] == '/' && c[1] == '.' && c[2] == '.' && (c[3] == '/' || c[3] == '\0'))
      return fail_set(f, "spec", EINVAL, "%s: '%s' contains '..'", opt, p);
  return 0;
}

static int add_op(struct spec *s, enum mount_kind k, const char *a, const char *b, bool optional, struct fail *f) {
  if (s->n_ops >= MAX_OPS) return fail_set(f, "spec", E2BIG, "too many mount operations");
  s->ops[s->n_ops++] = (struct mount_op){k, a, b, optional};
  return 0;
}

static int add_map(struct id_map *maps, size_t *n, char **t, const char *opt, struct fail *f) {
  unsigned long long in, out, count;
  if (*n >= MAX_MAPS) return fail_set(f, "spec", E2BIG, "too many %s entries", opt);
  if (parse_ull(t[0], &in) || parse_ull(t[1], &out) || parse_ull(t[2], &count) || count == 0)
    return fail_set(f, "spec", EINVAL, "%s: bad numbers", opt);
  maps[(*n)++] = (struct id_map){in, out, count};
  return 0;
}

bool spec_op_has_tree(const struct spec *s, size_t i) {
  return s->ops[i].kind == M_HOST_BIND || s->ops[i].kind == M_RESTORE || (s->ops[i].kind == M_OVERLAY && s->idmap_lower);
}

int spec_parse(struct spec *s, char **t, size_t n, struct fail *f) {
  unsigned long long v;
  size_t i = 0;
  for (; i < n; i++) {
    const char *o = t[i];
    if (!strcmp(o, "--")) {
      i++;
      break;
    } else if (!strcmp(o, "--share-net")) {
      s->share_net = true;
    } else if (!strcmp(o, "--egress-port")) {
      if (need(i, 1, n, o, f)) return -1;
      if (parse_ull(t[++i], &v) || v < 1 || v > 65535) return fail_set(f, "spec", EINVAL, "--egress-port: bad port");
      s->egress_port = (unsigned short)v;
    } else if (!strcmp(o, "--pty")) {
      unsigned long long r, c;
      if (need(i, 2, n, o, f)) return -1;
      if (parse_ull(t[i + 1], &r) || parse_ull(t[i + 2], &c) || r < 1 || c < 1 || r > 10000 || c > 10000)
        return fail_set(f, "spec", EINVAL, "--pty: bad rows or columns");
      s->pty_rows = (unsigned short)r;
      s->pty_cols = (unsigned short)c;
      i += 2;
    } else if (!strcmp(o, "--persist")) {
      s->persist = true;
    } else if (!strcmp(o, "--die-with-parent")) {
      s->die_with_parent = true;
    } else if (!strcmp(o, "--setgroups-deny")) {
      s->setgroups_deny = true;
    } else if (!strcmp(o, "--idmap-lower")) {
      s->idmap_lower = true;
    } else if (!strcmp(o, "--hostname")) {
      if (need(i, 1, n, o, f)) return -1;
      s->hostname = t[++i];
    } else if (!strcmp(o, "--chdir")) {
      if (need(i, 1, n, o, f) || abs_path(t[i + 1], o, f)) return -1;
      s->chdir = t[++i];
    } else if (!strcmp(o, "--uid") || !strcmp(o, "--gid")) {
      if (need(i, 1, n, o, f)) return -1;
      if (parse_ull(t[++i], &v) || v > 0xfffffffeULL) return fail_set(f, "spec", EINVAL, "%s: bad id", o);
      if (o[2] == 'u') s->uid = (unsigned long)v;
      else s->gid = (unsigned long)v;
    } else if (!strcmp(o, "--timeout-ms")) {
      if (need(i, 1, n, o, f)) return -1;
      if (parse_ull(t[++i], &v) || v > (1ULL << 40)) return fail_set(f, "spec", EINVAL, "--timeout-ms: bad value");
      s->timeout_ms = (long long)v;
    } else if (!strcmp(o, "--scratch")) {
      if (need(i, 1, n, o, f)) return -1;
      if (parse_ull(t[++i], &v) || v < 4096) return fail_set(f, "spec", EINVAL, "--scratch: bad size");
      s->scratch_bytes = v;
    } else if (!strcmp(o, "--cap-keep")) {
      if (need(i, 1, n, o, f)) return -1;
      if (parse_ull(t[++i], &v) || v > 63) return fail_set(f, "spec", EINVAL, "--cap-keep: bad capability number");
      s->cap_keep |= 1ULL << v;
    } else if (!strcmp(o, "--uid-map") || !strcmp(o, "--gid-map")) {
      if (need(i, 3, n, o, f)) return -1;
      int rc = o[2] == 'u' ? add_map(s->uid_map, &s->n_uid_map, &t[i + 1], o, f)
                           : add_map(s->gid_map, &s->n_gid_map, &t[i + 1], o, f);
      if (rc) return -1;
      i += 3;
    } else if (!strcmp(o, "--id-pool")) {
      unsigned long long start, slots, count;
      if (need(i, 4, n, o, f) || abs_path(t[i + 1], o, f)) return -1;
      if (parse_ull(t[i + 2], &start) || parse_ull(t[i + 3], &slots) || parse_ull(t[i + 4], &count) || !slots ||
          !count || start > 0xffffffffULL || count > 0xffffffffULL || slots > (0xffffffffULL - start) / count)
        return fail_set(f, "spec", EINVAL, "--id-pool: bad numbers");
      s->pool_dir = t[i + 1];
      s->pool_start = (unsigned long)start;
      s->pool_slots = (unsigned long)slots;
      s->pool_count = (unsigned long)count;
      i += 4;
    } else if (!strcmp(o, "--exec-socket")) {
      if (need(i, 1, n, o, f) || abs_path(t[i + 1], o, f)) return -1;
      s->exec_socket = t[++i];
    } else if (!strcmp(o, "--newidmap")) {
      if (need(i, 2, n, o, f) || abs_path(t[i + 1], o, f) || abs_path(t[i + 2], o, f)) return -1;
      s->newuidmap = t[i + 1];
      s->newgidmap = t[i + 2];
      i += 2;
    } else if (!strcmp(o, "--setenv")) {
      if (need(i, 1, n, o, f)) return -1;
      if (!strchr(t[i + 1], '=')) return fail_set(f, "spec", EINVAL, "--setenv: expected KEY=VALUE");
      if (s->n_env >= MAX_ENV) return fail_set(f, "spec", E2BIG, "too many environment variables");
      s->env[s->n_env++] = t[++i];
    } else if (!strcmp(o, "--cgroup")) {
      if (need(i, 1, n, o, f) || abs_path(t[i + 1], o, f)) return -1;
      if (s->n_cgroups >= MAX_CGROUPS) return fail_set(f, "spec", E2BIG, "too many cgroups");
      s->cgroups[s->n_cgroups++] = t[++i];
    } else if (!strcmp(o, "--cgroup-set") || !strcmp(o, "--report")) {
      if (need(i, 2, n, o, f)) return -1;
      bool set = o[2] == 'c';
      if (abs_path(t[i + (set ? 1 : 2)], o, f)) return -1;
      if (set ? s->n_sets >= MAX_SETS : s->n_reports >= MAX_REPORTS) return fail_set(f, "spec", E2BIG, "too many %s", o);
      struct kv kv = {t[i + 1], t[i + 2]};
      if (set) s->sets[s->n_sets++] = kv;
      else s->reports[s->n_reports++] = kv;
      i += 2;
    } else if (!strcmp(o, "--ro-bind") || !strcmp(o, "--ro-bind-try") || !strcmp(o, "--bind") ||
               !strcmp(o, "--bind-try") || !strcmp(o, "--overlay") || !strcmp(o, "--host-bind")) {
      if (need(i, 2, n, o, f) || abs_path(t[i + 1], o, f) || abs_path(t[i + 2], o, f)) return -1;
      enum mount_kind k = o[2] == 'r' ? M_RO_BIND : o[2] == 'b' ? M_BIND : o[2] == 'h' ? M_HOST_BIND : M_OVERLAY;
      if (add_op(s, k, t[i + 1], t[i + 2], strstr(o, "-try") != NULL, f)) return -1;
      i += 2;
    } else if (!strcmp(o, "--restore")) {
      if (need(i, 1, n, o, f) || abs_path(t[i + 1], o, f)) return -1;
      for (size_t k = 0; k < s->n_ops; k++)
        if (s->ops[k].kind == M_SCRATCH_DIR || s->ops[k].kind == M_SCRATCH_HOME || s->ops[k].kind == M_OVERLAY ||
            s->ops[k].kind == M_SCRATCH_UPPER)
          return fail_set(f, "spec", EINVAL,
                          "--restore must come before --scratch-dir, --scratch-home, --scratch-upper and --overlay");
      if (add_op(s, M_RESTORE, t[i + 1], NULL, false, f)) return -1;
      i += 1;
    } else if (!strcmp(o, "--symlink") || !strcmp(o, "--tmpfs") || !strcmp(o, "--scratch-dir") ||
               !strcmp(o, "--scratch-home")) {
      if (need(i, 2, n, o, f) || abs_path(t[i + 2], o, f)) return -1;
      enum mount_kind k = o[3] == 'y' ? M_SYMLINK : o[2] == 't' ? M_TMPFS : o[10] == 'h' ? M_SCRATCH_HOME : M_SCRATCH_DIR;
      if (k == M_TMPFS && parse_ull(t[i + 1], &v)) return fail_set(f, "spec", EINVAL, "--tmpfs: bad size");
      if ((k == M_SCRATCH_DIR || k == M_SCRATCH_HOME) && (strchr(t[i + 1], '/') || t[i + 1][0] == '.' || !t[i + 1][0]))
        return fail_set(f, "spec", EINVAL, "%s: bad name", o);
      if (add_op(s, k, t[i + 1], t[i + 2], false, f)) return -1;
      i += 2;
    } else if (!strcmp(o, "--scratch-upper")) {
      if (need(i, 1, n, o, f) || abs_path(t[i + 1], o, f)) return -1;
      if (add_op(s, M_SCRATCH_UPPER, NULL, t[i + 1], false, f)) return -1;
      i += 1;
    } else if (!strcmp(o, "--dir") || !strcmp(o, "--proc") || !strcmp(o, "--dev")) {
      if (need(i, 1, n, o, f) || abs_path(t[i + 1], o, f)) return -1;
      enum mount_kind k = o[2] == 'd' && o[3] == 'i' ? M_DIR : o[2] == 'p' ? M_PROC : M_DEV;
      if (add_op(s, k, NULL, t[i + 1], false, f)) return -1;
      i += 1;
    } else {
      return fail_set(f, "spec", EINVAL, "unknown option '%s'", o);
    }
  }
  size_t trees = 0;
  for (size_t k = 0; k < s->n_ops; k++) trees += spec_op_has_tree(s, k);
  if (trees > 16) return fail_set(f, "spec", E2BIG, "too many host binds, restores and idmapped overlays (at most 16)");
  if (i >= n && !s->persist) return fail_set(f, "spec", EINVAL, "no command given (expected '-- CMD [ARGS...]')");
  if (i < n && s->persist) return fail_set(f, "spec", EINVAL, "--persist takes no command (run commands with --exec-into)");
  if (s->exec_socket && !s->persist) return fail_set(f, "spec", EINVAL, "--exec-socket needs --persist");
  if (s->egress_port && s->share_net) return fail_set(f, "spec", EINVAL, "--egress-port needs the sandbox's own network (not --share-net)");
  if (s->pool_dir && (s->n_uid_map || s->n_gid_map || s->newuidmap))
    return fail_set(f, "spec", EINVAL, "--id-pool takes the place of --uid-map, --gid-map and --newidmap");
  s->argv = &t[i];
  s->env[s->n_env] = NULL;
  size_t workspaces = 0;
  for (size_t k = 0; k < s->n_ops; k++) {
    enum mount_kind kind = s->ops[k].kind;
    if ((kind == M_OVERLAY || kind == M_SCRATCH_DIR || kind == M_SCRATCH_HOME || kind == M_RESTORE ||
         kind == M_SCRATCH_UPPER) && !s->scratch_bytes)
      return fail_set(f, "spec", EINVAL,
                      "--overlay, --scratch-dir, --scratch-home, --scratch-upper and --restore need --scratch SIZE");
    workspaces += kind == M_OVERLAY || kind == M_SCRATCH_UPPER;
  }
  /* both put the workspace's files in the one upper directory */
  if (workspaces > 1) return fail_set(f, "spec", EINVAL, "at most one --overlay or --scratch-upper");
  return 0;
}
