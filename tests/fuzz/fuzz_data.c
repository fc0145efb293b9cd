/* fuzz_data: the .data option parser (read_data_cfg and the option list),
 * read the way the classifier and detector commands read it. */
#include "darknet.h"
#include "fuzz.h"
#include "option_list.h"

void fuzz_init(void)
{
}

void fuzz_one(const uint8_t *data, size_t size)
{
    char path[256];
    fuzz_path(path, sizeof(path), "set.data");
    fuzz_write(path, data, size);
    list *options = read_data_cfg(path);
    option_find_int(options, "classes", 2);
    option_find_int_quiet(options, "top", 1);
    option_find_int_quiet(options, "tag", 0);
    option_find_float_quiet(options, "thresh", .5);
    option_find_str(options, "train", 0);
    option_find_str(options, "valid", 0);
    option_find_str(options, "backup", 0);
    char *names = option_find_str(options, "names", 0);
    if (!names) names = option_find_str(options, "labels", 0);
    if (names) get_labels(names);
    option_unused(options);
    free_list(options);
}
