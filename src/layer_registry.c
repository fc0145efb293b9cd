/* layer_registry.c: the table behind the layer hook (ext.h): the cfg
 * sections that upstream does not know, and the layer each one makes.
 *
 * Adding a layer type means adding one line to the table here; upstream
 * sources are never edited for it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext.h"
#include "gclayer.h"
#include "gcconv/gcmerge.h"
#include "rcnn/rcnn_layers.h"
#include "checked.h"

static const layer_ext *const layer_table[] = {
    &gcconv_ext,
    &gcmerge_ext,
    &rpn_ext,
    &roipool_ext,
    &rcnn_ext,
    NULL
};

const layer_ext *ext_find_layer(const char *section)
{
    for (int i = 0; layer_table[i]; ++i) {
        if (strcmp(layer_table[i]->section, section) == 0) return layer_table[i];
    }
    return NULL;
}

layer ext_parse_layer(list *options, ext_params p)
{
    const layer_ext *entry = ext_find_layer(p.section);
    if (!entry) {
        dn_fatal("\n%s: section %d %s: unknown section type\n",
                p.cfgfile, p.index, p.section);
    }
    layer l = entry->parse(options, p);
    l.type = EXTENSION;
    l.ext = entry;
    return l;
}
