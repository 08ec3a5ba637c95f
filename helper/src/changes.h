/* bkg-helper: list the workspace changes held in the overlay's upper layer. */
#ifndef BKG_CHANGES_H
#define BKG_CHANGES_H

/* Walk <scratch_fd>/upper against the host directory `lower` (NULL: a workspace that started empty, where
   everything is added) and write one JSON line per change:
   {"type":"change","path":"a/b","kind":"added"|"modified"|"deleted","file_type":"file"|"dir"|"symlink"|"other"}. */
int list_changes(int scratch_fd, const char *lower, int status_fd);

#endif
