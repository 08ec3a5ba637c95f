/* bkg-helper: the sandbox's identities. Which host ids its ids map to (a range claimed from a pool,
   or the caller's own ids and subordinate ranges through the setuid newuidmap/newgidmap), and a
   user namespace that shifts a saved tree's owners into the sandbox's range. */
#ifndef BKG_IDS_H
#define BKG_IDS_H

#include <sys/types.h>
#include "spec.h"
#include "util.h"

/* --id-pool: claim a free range (an exclusive lock on DIR/SLOT held until this process exits) and
   set the spec's uid and gid maps to it. Returns the lock's descriptor, or -1 with f set. */
int ids_claim(struct spec *s, struct fail *f);

/* Write the sandbox's id maps for pid: directly, or through newuidmap/newgidmap (--newidmap). */
int ids_write_maps(const struct spec *s, pid_t pid, struct fail *f);

/* A user namespace (as a descriptor) whose ids old_uid+i / old_gid+i are the sandbox's i: the
   idmapping that shows a tree saved by a sandbox with another range as the sandbox's own. */
int ids_shift_userns(const struct spec *s, unsigned long old_uid, unsigned long old_gid, struct fail *f);

#endif
