/* det_region.c: the backward pass of [region] layers on the CPU.
 *
 * Upstream's CPU backward_region_layer() is empty (its body is commented
 * out; only the GPU path passes the gradient on), so a YOLOv2 network never
 * learns on a CPU: no gradient reaches the layers below the [region] layer.
 * This is the GPU path's computation done on the CPU: the deltas of the
 * logistic outputs (x, y, objectness) go through the logistic's derivative,
 * then everything is added to the input's delta.  The detection commands
 * install it with det_fix_network(). */
#include "activations.h"
#include "blas.h"
#include "detect/det_region.h"
#include "region_layer.h"

static void backward_region_cpu(const layer l, network net)
{
    int plane = l.w * l.h, entries = l.coords + l.classes + 1;
    for (int b = 0; b < l.batch; ++b) {
        for (int n = 0; n < l.n; ++n) {
            int base = b * l.outputs + n * plane * entries;
            gradient_array(l.output + base, 2 * plane, LOGISTIC, l.delta + base);
            if (l.coords > 4) {
                int i = base + 4 * plane;
                gradient_array(l.output + i, (l.coords - 4) * plane, LOGISTIC, l.delta + i);
            }
            if (!l.background) {
                int i = base + l.coords * plane;
                gradient_array(l.output + i, plane, LOGISTIC, l.delta + i);
            }
        }
    }
    if (net.delta) axpy_cpu(l.batch * l.inputs, 1, l.delta, 1, net.delta, 1);
}

void det_fix_network(network *net)
{
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (l->type == REGION && l->backward == backward_region_layer) l->backward = backward_region_cpu;
    }
}
