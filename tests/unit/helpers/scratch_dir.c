/* scratch_dir.c: a temporary folder for a cmocka test group. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scratch_dir.h"

char scratch_dir[64];

int scratch_dir_make(void **state)
{
    (void)state;
    strcpy(scratch_dir, "/tmp/darknet_test_XXXXXX");
    return mkdtemp(scratch_dir) ? 0 : -1;
}

int scratch_dir_remove(void **state)
{
    (void)state;
    DIR *d = opendir(scratch_dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", scratch_dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(scratch_dir);
    return 0;
}

const char *scratch_path(const char *name)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/%s", scratch_dir, name);
    return p;
}
