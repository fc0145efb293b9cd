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

int augment_is_identity(image im, augment_args a)
{
    return a.rad == 0 && a.scale == 1 && a.aspect == 1 && a.dx == 0 && a.dy == 0 && a.w == im.w && a.h == im.h;
}

/* upstream's random_augment_image(): the same draws, then its rotated crop,
 * which samples every pixel bilinearly.  When the draws make it the
 * identity (no angle, scale and aspect 1, no shift, the network's size: a
 * cfg with angle=0, aspect=1 and min_crop = max_crop = the image's size),
 * each sample lands on a pixel with weight 1 and its neighbours with weight
 * 0, which gives the pixel's value bit for bit; the copy skips the
 * arithmetic. */
static image random_crop(image im, float angle, float aspect, int min, int max, int size)
{
    augment_args a = random_augment_args(im, angle, aspect, min, max, size, size);
    if (augment_is_identity(im, a)) return copy_image(im);
    return rotate_crop_image(im, a.rad, a.scale, a.w, a.h, a.dx, a.dy, a.aspect);
}

image ext_augment_crop(image im, float angle, float aspect, int min, int max, int size)
{
    int pad = pad_crop_pixels;
    if (pad <= 0) return random_crop(im, angle, aspect, min, max, size);
    image sized = (im.w == size && im.h == size) ? im : resize_image(im, size, size);
    /* x before y, each from the loader thread's stream (seeded runs stay
     * reproducible whatever the number of threads) */
    int dx = ext_rand() % (2 * pad + 1);
    int dy = ext_rand() % (2 * pad + 1);
    image out = augment_pad_crop(sized, pad, size, dx, dy);
    if (sized.data != im.data) free_image(sized);
    return out;
}
