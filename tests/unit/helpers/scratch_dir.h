/* scratch_dir.h: a temporary folder for a cmocka test group. */
#ifndef SCRATCH_DIR_H
#define SCRATCH_DIR_H

/* The folder's path, valid between scratch_dir_make and scratch_dir_remove. */
extern char scratch_dir[64];

/* cmocka setup/teardown: make /tmp/darknet_test_XXXXXX; empty and remove it. */
int scratch_dir_make(void **state);
int scratch_dir_remove(void **state);

/* DIR/name; the last four results stay valid. */
const char *scratch_path(const char *name);

#endif
