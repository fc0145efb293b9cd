/* cfgopt.c: strict cfg key readers (see cfgopt.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input/cfgopt.h"
#include "option_list.h"
#include "checked.h"

void cfg_fail(cfg_where w, const char *key, const char *value, const char *why)
{
    char index[32] = "";
    if (w.index >= 0) snprintf(index, sizeof index, "section %d ", w.index);
    dn_fatal("\n%s%s%s%s: %s=%s: %s\n", w.file ? w.file : "", w.file ? ": " : "", index, w.section, key,
             value ? value : "", why);
}

int cfg_has(list *options, const char *key)
{
    return option_find(options, (char *)key) != NULL;
}

int cfg_int(list *options, const char *key, int def, cfg_where w)
{
    char *s = option_find(options, (char *)key);
    if (!s) return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno || v < -2147483647L || v > 2147483647L) {
        cfg_fail(w, key, s, "not a whole number");
    }
    return (int)v;
}

float cfg_float(list *options, const char *key, float def, cfg_where w)
{
    char *s = option_find(options, (char *)key);
    if (!s) return def;
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (end == s || *end != '\0' || errno || !isfinite(v)) {
        cfg_fail(w, key, s, "not a finite number");
    }
    return v;
}

int cfg_choice(list *options, const char *key, const char *const *choices, int def, cfg_where w)
{
    char *s = option_find(options, (char *)key);
    if (!s) return def;
    for (int i = 0; choices[i]; ++i) {
        if (strcmp(s, choices[i]) == 0) return i;
    }
    char why[256] = "expected one of:";
    for (int i = 0; choices[i]; ++i) {
        strncat(why, " ", sizeof(why) - strlen(why) - 1);
        strncat(why, choices[i], sizeof(why) - strlen(why) - 1);
    }
    cfg_fail(w, key, s, why);
}

/* ---- range readers --------------------------------------------------------- */

/* The error for a value out of its range: the text as the cfg wrote it, or
 * the value itself when it came from a default. */
static void __attribute__((noreturn)) out_of_range(list *options, const char *key, double v, cfg_where w,
                                                   const char *why)
{
    char text[32];
    const char *s = option_find(options, (char *)key);
    if (!s) {
        snprintf(text, sizeof(text), "%g", v);
        s = text;
    }
    cfg_fail(w, key, s, why);
}

int cfg_int_min(list *options, const char *key, int def, int lowest, cfg_where w)
{
    int v = cfg_int(options, key, def, w);
    char why[48];
    snprintf(why, sizeof(why), "must be at least %d", lowest);
    if (v < lowest) out_of_range(options, key, v, w, why);
    return v;
}

int cfg_int_range(list *options, const char *key, int def, int lo, int hi, cfg_where w)
{
    int v = cfg_int(options, key, def, w);
    char why[64];
    snprintf(why, sizeof(why), "must be in [%d, %d]", lo, hi);
    if (v < lo || v > hi) out_of_range(options, key, v, w, why);
    return v;
}

int cfg_flag(list *options, const char *key, int def, cfg_where w)
{
    int v = cfg_int(options, key, def, w);
    if (v != 0 && v != 1) out_of_range(options, key, v, w, "must be 0 or 1");
    return v;
}

float cfg_float_min(list *options, const char *key, float def, float lowest, cfg_where w)
{
    float v = cfg_float(options, key, def, w);
    char why[48];
    snprintf(why, sizeof(why), "must be >= %g", lowest);
    if (!(v >= lowest)) out_of_range(options, key, v, w, why);
    return v;
}

float cfg_float_range(list *options, const char *key, float def, float lo, float hi, cfg_where w)
{
    float v = cfg_float(options, key, def, w);
    char why[64];
    snprintf(why, sizeof(why), "must be in [%g, %g]", lo, hi);
    if (!(v >= lo && v <= hi)) out_of_range(options, key, v, w, why);
    return v;
}
