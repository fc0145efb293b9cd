/* data_keys.c: see data_keys.h.
 *
 * Upstream's network struct has no room of ours but net->ext, which is the
 * optimizer's; the keys sit in a small table keyed by the network's
 * address instead, dropped when the network is freed. */
#include <stdlib.h>

#include "input/data_keys.h"
#include "checked.h"

typedef struct keyed {
    const network *net;
    data_keys keys;
} keyed;

static keyed *table;
static int used, room;

static keyed *entry_of(const network *net)
{
    for (int i = 0; i < used; ++i)
        if (table[i].net == net) return &table[i];
    return NULL;
}

void data_keys_parse(list *options, const network *net, cfg_where w)
{
    keyed *e = entry_of(net);
    if (!e) {
        if (used == room) {
            room = room ? 2 * room : 8;
            table = dn_realloc(table, room * sizeof *table);
        }
        e = &table[used++];
        e->net = net;
    }
    e->keys.pad_crop = cfg_int_min(options, "pad_crop", 0, 0, w);
}

data_keys data_keys_of(const network *net)
{
    keyed *e = entry_of(net);
    data_keys none = {0};
    return e ? e->keys : none;
}

void data_keys_forget(const network *net)
{
    keyed *e = entry_of(net);
    if (e) *e = table[--used];
}

void data_keys_forget_all(void)
{
    free(table);
    table = NULL;
    used = room = 0;
}
