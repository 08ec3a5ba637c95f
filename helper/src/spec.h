/* bkg-helper: the declarative sandbox spec (NUL-separated tokens, as bwrap's --args). */
#ifndef BKG_SPEC_H
#define BKG_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

enum mount_kind {
  M_RO_BIND,     /* src dst: read-only recursive bind, skip if src missing when optional */
  M_BIND,        /* src dst: read-write bind */
  M_DIR,         /* dst */
  M_SYMLINK,     /* target dst */
  M_TMPFS,       /* dst size */
  M_PROC,        /* dst */
  M_DEV,         /* dst: minimal /dev */
  M_SCRATCH_DIR, /* subdir dst: bind a directory of the scratch tmpfs */
  M_OVERLAY,     /* lower dst: copy-on-write overlay, upper on scratch */
  M_HOST_BIND,   /* src dst: read-write bind of a host path the monitor opens (the sandbox's uid may not reach it) */
  M_SCRATCH_HOME, /* subdir dst: like M_SCRATCH_DIR, but created 0700 and an existing (restored) one keeps its mode */
  M_RESTORE,     /* dir: copy a tree saved by --save into the scratch tmpfs (the monitor opens dir). Must come
                    before every --scratch-dir, --scratch-home, --scratch-upper and --overlay, which then find
                    their restored directories (the top-level `work` of the saved tree is not restored). */
  M_SCRATCH_UPPER, /* dst: the scratch's upper directory itself bound at dst: a workspace that starts empty (no
                      host directory), listed by the change listing like an overlay's upper with nothing below */
};

struct mount_op {
  enum mount_kind kind;
  const char *a, *b;
  bool optional;
};

struct id_map {
  unsigned long inside, outside, count;
};

struct kv {
  const char *key, *value;
};

#define MAX_OPS 128
#define MAX_MAPS 5
#define MAX_ENV 256
#define MAX_CGROUPS 8
#define MAX_SETS 32
#define MAX_REPORTS 16

struct spec {
  bool share_net;
  unsigned short egress_port; /* --egress-port PORT: a listening socket on 127.0.0.1:PORT in the sandbox's network, passed out (egress.h) */
  bool die_with_parent;
  bool persist; /* no command: pid 1 stays up until stopped; commands arrive with --exec-into */
  const char *exec_socket; /* --exec-socket PATH (with --persist): commands also arrive there (execserver.h) */
  unsigned short pty_rows, pty_cols; /* --pty ROWS COLS (exec only): the command gets a terminal */
  bool setgroups_deny;
  bool idmap_lower;
  const char *hostname;
  const char *chdir;
  unsigned long uid, gid; /* inside the sandbox, for the command */
  long long timeout_ms;   /* 0 = none */
  unsigned long long scratch_bytes;
  unsigned long long cap_keep; /* bitmask of capabilities kept in the bounding set */
  struct id_map uid_map[MAX_MAPS], gid_map[MAX_MAPS];
  size_t n_uid_map, n_gid_map;
  /* --id-pool DIR START SLOTS COUNT: the maps are a free range claimed at start (ids.h), START + slot * COUNT */
  const char *pool_dir;
  unsigned long pool_start, pool_slots, pool_count;
  /* --newidmap UIDTOOL GIDTOOL: the maps are written by these setuid tools (an ordinary user's subordinate ids) */
  const char *newuidmap, *newgidmap;
  struct mount_op ops[MAX_OPS];
  size_t n_ops;
  const char *env[MAX_ENV + 1];
  size_t n_env;
  const char *cgroups[MAX_CGROUPS];
  size_t n_cgroups;
  struct kv sets[MAX_SETS];
  size_t n_sets;
  struct kv reports[MAX_REPORTS];
  size_t n_reports;
  char **argv; /* the command, NULL-terminated */
};

/* Whether mount operation i arrives as a tree the monitor opened on the host (passed as a descriptor). */
bool spec_op_has_tree(const struct spec *s, size_t i);

/* Parse tokens[0..n) into spec; the token strings must outlive spec. */
int spec_parse(struct spec *s, char **tokens, size_t n, struct fail *f);

#endif
