/* files.c: what upstream's commands read from their surroundings: the
 * display, paths, and files that must be regular (see ext.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext.h"
#include "checked.h"

/* Upstream's path buffers are this long (char labelpath[4096] and the like). */
#define PATH_ROOM 4096

static int display_forbidden;

void ext_forbid_display(void)
{
    display_forbidden = 1;
}

int ext_display_available(void)
{
    const char *x11 = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
    return !display_forbidden && ((x11 && *x11) || (wayland && *wayland));
}

static void path_too_long(const char *path, size_t length)
{
    dn_fatal("a path of %zu bytes (at most %d): %.60s...\n", length, PATH_ROOM - 1, path);
}

void ext_find_replace(const char *str, const char *orig, const char *rep, char *output)
{
    size_t n = strlen(str);
    if (n >= PATH_ROOM) path_too_long(str, n);
    const char *p = strstr(str, orig);
    if (!p) {
        if (output != str) memmove(output, str, n + 1);
        return;
    }
    size_t head = (size_t)(p - str), cut = strlen(orig), add = strlen(rep);
    size_t total = n - cut + add;
    if (total >= PATH_ROOM) path_too_long(str, total);
    /* output may be str itself: build the result apart first */
    char result[PATH_ROOM];
    memcpy(result, str, head);
    memcpy(result + head, rep, add);
    memcpy(result + head + add, p + cut, n - head - cut + 1);
    memcpy(output, result, total + 1);
}

void ext_require_regular_file(const char *file, const char *what)
{
    struct stat st;
    if (stat(file, &st) != 0) {
        dn_fatal("couldn't open file: %s (%s): %s\n", file, what, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        dn_fatal("%s (%s): not a regular file (a device, pipe or folder), not read\n",
                file, what);
    }
}

void ext_exit_now(int status)
{
    fflush(NULL);
    _exit(status);
}
