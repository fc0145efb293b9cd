/* augment.c: pad-and-crop augmentation (augment.h), behind the crop hook
 * of upstream's classification loader (ext.h, patches/0050). */
#include "classify/augment.h"
#include "ext.h"
#include "image.h"

static int pad_crop_pixels;

void augment_set_pad_crop(int pad)
{
    pad_crop_pixels = pad;
}

image augment_pad_crop(image im, int pad, int size, int dx, int dy)
{
    image out = make_image(size, size, im.c);   /* zeroed: the padding */
    for (int c = 0; c < im.c; ++c) {
        for (int y = 0; y < size; ++y) {
            int sy = y + dy - pad;
            if (sy < 0 || sy >= im.h) continue;
            for (int x = 0; x < size; ++x) {
                int sx = x + dx - pad;
                if (sx < 0 || sx >= im.w) continue;
                out.data[(c * size + y) * size + x] = im.data[(c * im.h + sy) * im.w + sx];
            }
        }
    }
    return out;
}

image ext_augment_crop(image im, float angle, float aspect, int min, int max, int size)
{
    int pad = pad_crop_pixels;
    if (pad <= 0) return random_augment_image(im, angle, aspect, min, max, size, size);
    image sized = (im.w == size && im.h == size) ? im : resize_image(im, size, size);
    /* x before y, each from the loader thread's stream (seeded runs stay
     * reproducible whatever the number of threads) */
    int dx = ext_rand() % (2 * pad + 1);
    int dy = ext_rand() % (2 * pad + 1);
    image out = augment_pad_crop(sized, pad, size, dx, dy);
    if (sized.data != im.data) free_image(sized);
    return out;
}
