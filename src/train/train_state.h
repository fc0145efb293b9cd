/* train_state.h: the training-state file written beside each weights file.
 *
 * FILE.state holds what FILE (the weights) does not and an exact resume
 * needs: the step count t, every generator stream, and per layer the
 * momentum buffers (weight_updates, bias_updates, scale_updates) and the Adam
 * moments.  R of [gcconv] has no momentum and is in the weights file already.
 *
 * Layout (host byte order, little-endian on x86 and ARM; floats are float32):
 *   char[8]  "DNSTATE1"
 *   uint32   version (1)
 *   uint64   seen (must equal the weights file's, or the state is stale)
 *   uint64   t (optimizer steps taken)
 *   uint32   layers, uint32 streams, uint32 seeded, uint64 seed
 *   streams x { uint64 s[4]; uint32 has_spare; float spare }
 *   layers  x { uint32 type; uint32 slots (9);
 *               slots x { uint32 count; float[count] } }
 *     slots: weight_updates bias_updates scale_updates m v bias_m bias_v
 *            scale_m scale_v; count 0 where the layer has no such buffer
 *   char[8]  "DNSTATE."
 *
 * It is written to a temporary file in the same folder, flushed to disk and
 * renamed over FILE.state, so a crash leaves either the old or the new file. */
#ifndef TRAIN_STATE_H
#define TRAIN_STATE_H

#include "darknet.h"

/* The state file's name for a weights file: weightfile + ".state" (malloc'd). */
char *train_state_path(const char *weightfile);

/* 0 on success; on failure says why on stderr and leaves no file behind. */
int train_state_save(network *net, const char *path);
/* 1 when loaded, 0 when absent or stale (said on stderr); a file that is
 * short or does not match the network is an error (exit 1). */
int train_state_load(network *net, const char *path);

#endif
