/* bkg-helper: saving a sandbox's scratch layer to a host directory and restoring it. */
#ifndef BKG_PERSIST_H
#define BKG_PERSIST_H

#include "util.h"

/* Copy the entries of directory src into directory dst (descriptors the caller holds), recursively:
   regular files, directories, symlinks (never followed), fifos and overlay whiteouts (0:0 character
   devices), with permission bits (setuid/setgid/sticky too), owners, access and modification times,
   and user.* extended attributes (not on symlinks or special files). Sockets and other devices are
   left out; hard links become separate files. A top-level entry named skip (or none when NULL) is
   left out. A directory that already exists in dst is merged: it takes the saved one's mode, owner,
   xattrs and times; any other existing entry is an error. Trees deeper than 64 levels are an error.
   The source is untrusted: read relative to directory descriptors, O_NOFOLLOW, until EOF. */
int persist_copy(int src, int dst, const char *skip, const char *stage, struct fail *f);

/* --save SRC DEST: DEST must not exist; it is created with SRC's mode and owner and receives a copy
   of SRC's tree, except that the top-level `work` (an overlay workdir) is replaced by an empty
   directory with the same mode and owner. On failure DEST may be left partly written.
   link (--save-linked SRC DEST): regular files are hard links to SRC's (falling back to a copy across
   file systems or where the link is refused) — only for an immutable SRC, a saved tree or snapshot. */
int persist_save(const char *src, const char *dest, int link, struct fail *f);

#endif
