/* bkg-helper: cgroup mechanism (create, configure, join, report, remove). Works on v1 and v2. */
#ifndef BKG_CGROUP_H
#define BKG_CGROUP_H

#include <sys/types.h>
#include "spec.h"
#include "util.h"

int cgroups_create(const struct spec *s, size_t *created, struct fail *f);
int cgroups_join(const struct spec *s, pid_t pid, struct fail *f);
/* With a single cgroup v2 directory: an O_PATH descriptor for clone3(CLONE_INTO_CGROUP), else -1.
   Being born in the cgroup avoids a migration, whose global lock can cost an RCU grace period. */
int cgroups_clone_target(const struct spec *s);
/* Append ,"files":{name: contents} to b for each --report. Missing files are null. */
int cgroups_report(const struct spec *s, struct buf *b);
/* Remove the first `created` cgroups, newest first; retries while the kernel finishes exits. */
void cgroups_remove(const struct spec *s, size_t created);

#endif
