/* bkg-helper: building the sandbox's filesystem (new root, binds, /dev, /proc, overlay). */
#ifndef BKG_MOUNTS_H
#define BKG_MOUNTS_H

#include "spec.h"
#include "util.h"

/* Build the new root and pivot into it. trees[i]: for operation i, a detached tree the monitor
   opened on the host (an idmapped overlay lower layer, a host bind), a directory it opened (a
   saved scratch layer to restore), or -1. On success *scratch_fd is an O_PATH descriptor of the
   scratch tmpfs (or -1). */
int build_root(const struct spec *s, const int *trees, int *scratch_fd, struct fail *f);

#endif
