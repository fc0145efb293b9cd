#!/usr/bin/python3
"""Write the classification cfgs in cfg/: each CCNN ([gcconv]) and its plain
twin, the same network with [convolutional] layers of the same `filters=`.

    scripts/gen_cfgs.py [--check] [--out cfg]

--check compares instead of writing and exits 1 when a file differs.  The
networks (see docs/classification.md):

  resnet18-cifar           ResNet-18 for CIFAR, stages 16-16-32-64 (paper Table 1)
  resnet18-cifar-kK        its CCNNs, K = 1, 2, 4, 8
  wrn-40-4-cifar(-k2)      WRN-40-4 and CCNN2-40 (Table 2)
  wrn-28-4-cifar(-k3)      WRN-28-4 and CCNN3-28 (Table 2)
  resnet18-imagenet(-k2)   ResNet-18 for ImageNet and CCNN-18, K = 2 (Table 3)
  alexnet-imagenet(-k2)    AlexNet and its CCNN, K = 2
  mnist-small(-k2)         a small network for 28x28 Fashion-MNIST / MNIST
  fashion-cnn(-k2)         the demo's pair: mnist-small twice as wide, 5 epochs
  mnist-small-params       mnist-small widened to the trained parameters of mnist-small-k2
  mnist-small-flops        mnist-small widened to the forward multiply-adds of mnist-small-k2
"""
import argparse
import os
import sys

HEADER = "# %s\n# Written by scripts/gen_cfgs.py; edit the script, not this file.\n"


class Net:
    def __init__(self, k):
        self.k = k              # None: plain twin
        self.parts = []
        self.n = 0              # layers so far (the next layer's index)

    def add(self, section, **kv):
        lines = ["[%s]" % section] + ["%s=%s" % (key, val) for key, val in kv.items()]
        self.parts.append("\n".join(lines) + "\n")
        self.n += 1

    def conv(self, filters, size, stride=1, activation="relu", bn=1, pad=None):
        kv = {"batch_normalize": bn} if bn else {}
        kv.update(filters=filters, size=size, stride=stride,
                  pad=(1 if size > 1 else 0) if pad is None else pad, activation=activation)
        if self.k is None:
            self.add("convolutional", **kv)
        else:
            kv["branches"] = self.k
            if self.n == 0:
                kv["expand"] = 1
            self.add("gcconv", **kv)

    def head(self, classes):
        """A plain 1x1 [convolutional] reads all N*K channels; then average and softmax."""
        self.add("convolutional", filters=classes, size=1, stride=1, pad=0, activation="linear")
        self.add("avgpool")
        self.add("softmax", groups=1)

    def block(self, width, stride, project):
        """Basic residual block: conv-BN-ReLU, conv-BN, add, ReLU.  With
        project, the shortcut is a 1x1 conv-BN of the block input."""
        self.conv(width, 3, stride)
        self.conv(width, 3, 1, activation="linear")
        if project:
            self.add("route", layers=-3)
            self.conv(width, 1, stride, activation="linear")
        self.add("shortcut", **{"from": -3, "activation": "relu"})

    def stages(self, first_width, widths, strides, blocks):
        prev = first_width
        for width, stride in zip(widths, strides):
            for b in range(blocks):
                s = stride if b == 0 else 1
                self.block(width, s, project=(b == 0 and (s != 1 or width != prev)))
                prev = width


def net_section(common, k):
    kv = dict(common)
    if k is not None:
        kv.update(optimizer="csgd", sigma=0.0001)
    return "[net]\n" + "".join("%s=%s\n" % item for item in kv.items()) + "\n"


def cifar_common(max_batches, steps, decay):
    # The paper's augmentation: pad 4 zero pixels, random 32x32 crop, flip
    # (pad_crop=, src/classify/augment.c; darknet flips half the images).
    return [("batch", 128), ("subdivisions", 1), ("height", 32), ("width", 32), ("channels", 3),
            ("pad_crop", 4), ("min_crop", 32), ("max_crop", 32), ("angle", 0), ("aspect", 1), ("hue", 0),
            ("saturation", 1), ("exposure", 1), ("learning_rate", 0.1), ("momentum", 0.9),
            ("decay", decay), ("policy", "steps"), ("steps", ",".join(map(str, steps))),
            ("scales", ",".join(["0.1"] * len(steps))), ("max_batches", max_batches)]


def resnet18_cifar(k):
    n = Net(k)
    n.conv(16, 3)
    n.stages(16, [16, 16, 32, 64], [1, 2, 2, 2], 2)
    n.head(10)
    return cifar_common(64000, [32000, 48000], 0.0005), n


def wrn_cifar(depth, widen):
    blocks = (depth - 4) // 6

    def build(k):
        n = Net(k)
        n.conv(16, 3)
        n.stages(16, [16 * widen, 32 * widen, 64 * widen], [1, 2, 2], blocks)
        n.head(10)
        return cifar_common(64000, [32000, 48000], 0.0001), n
    return build


def resnet18_imagenet(k):
    n = Net(k)
    n.conv(64, 7, 2)
    n.add("maxpool", size=3, stride=2)
    n.stages(64, [64, 128, 256, 512], [1, 2, 2, 2], 2)
    n.head(1000)
    epoch = 5000  # 1.28M images / batch 256
    common = [("batch", 256), ("subdivisions", 8), ("height", 224), ("width", 224), ("channels", 3),
              ("min_crop", 256), ("max_crop", 480), ("angle", 0), ("aspect", 0.75), ("hue", 0.1),
              ("saturation", 0.75), ("exposure", 0.75), ("learning_rate", 0.1), ("momentum", 0.9),
              ("decay", 0.0001), ("policy", "steps"),
              ("steps", ",".join(str(epoch * e) for e in range(15, 120, 15))),
              ("scales", ",".join(["0.1"] * 7)), ("max_batches", 120 * epoch)]
    return common, n


def alexnet_imagenet(k):
    """Without padding the pools give 55-27-13-6, as in the original network."""
    n = Net(k)
    n.conv(96, 11, 4, bn=0, pad=0)
    n.add("maxpool", size=3, stride=2, padding=0)
    n.conv(256, 5, 1, bn=0)
    n.add("maxpool", size=3, stride=2, padding=0)
    n.conv(384, 3, 1, bn=0)
    n.conv(384, 3, 1, bn=0)
    n.conv(256, 3, 1, bn=0)
    n.add("maxpool", size=3, stride=2, padding=0)
    n.add("connected", output=4096, activation="relu")
    n.add("dropout", probability=0.5)
    n.add("connected", output=4096, activation="relu")
    n.add("dropout", probability=0.5)
    n.add("connected", output=1000, activation="linear")
    n.add("softmax", groups=1)
    common = [("batch", 128), ("subdivisions", 2), ("height", 227), ("width", 227), ("channels", 3),
              ("min_crop", 256), ("max_crop", 256), ("angle", 0), ("aspect", 1), ("hue", 0),
              ("saturation", 1), ("exposure", 1), ("learning_rate", 0.01), ("momentum", 0.9),
              ("decay", 0.0005), ("policy", "steps"), ("steps", "200000,300000"),
              ("scales", "0.1,0.1"), ("max_batches", 450000)]
    return common, n


def small_cnn(k, widths, extra):
    """Three 3x3 conv-BN-ReLU layers with 2x2 pools between them and a
    [connected] head, for 28x28 images."""
    n = Net(k)
    for i, width in enumerate(widths):
        if i:
            n.add("maxpool", size=2, stride=2)
        n.conv(width, 3)
    if k is not None:
        # The mean over branches gives the head the plain twin's inputs.
        # Reading all N*K channels, its steps grow with K: at K=4 and
        # learning_rate=0.05 the loss jumped to 20 in the first iterations
        # and one seed in three diverged (docs/reproducing.md, "Recipes").
        n.add("gcmerge", mode="mean")
    # A [connected] head keeps where things are in the 7x7 map, which matters
    # for these centred images.
    n.add("connected", output=10, activation="linear")
    n.add("softmax", groups=1)
    common = [("batch", 32), ("subdivisions", 1), ("height", 28), ("width", 28), ("channels", 3),
              ("min_crop", 28), ("max_crop", 28), ("angle", 0), ("aspect", 1), ("hue", 0),
              ("saturation", 1), ("exposure", 1), ("learning_rate", 0.05), ("burn_in", 100),
              ("momentum", 0.9), ("decay", 0.0005), ("policy", "poly"), ("power", 1)]
    return common + extra, n


def mnist_small(k):
    return small_cnn(k, (8, 16, 32), [("max_batches", 600)])


def fashion_cnn(k):
    """The demo's pair (make demo): mnist-small twice as wide, with its
    recipe, for five epochs of Fashion-MNIST and with a fixed seed."""
    return small_cnn(k, (16, 32, 64), [("max_batches", 9375), ("seed", 1)])


def small_cnn_counts(widths, k=None):
    """Trained parameters and forward multiply-adds of small_cnn(k, widths),
    as `darknet netcheck` counts them (batch-norm scales and R included;
    [gcconv] with full mixing runs its first layer on the K-fold input)."""
    params, macs, channels, pixels = 0, 0, 3, 28 * 28
    for i, w in enumerate(widths):
        planes = channels if k is None else (3 if i == 0 else channels // k) * k
        outputs = w if k is None else w * k
        params += outputs * planes * 9 // (1 if k is None else k) + 2 * outputs + (9 * k if k else 0)
        macs += pixels * outputs * planes * 9
        channels, pixels = outputs, pixels // 4 if i < len(widths) - 1 else pixels
    head = pixels * widths[-1] * 10
    return params + head + 10, macs + head


def widened(target_widths, k, measure):
    """Widths (a, 2a, 4a) of the plain small_cnn, scaled in steps of 1 %,
    whose count (0: parameters, 1: multiply-adds) is nearest the K=k
    CCNN's with target_widths."""
    goal = small_cnn_counts(target_widths, k)[measure]
    def error(scale):
        return abs(small_cnn_counts([round(w * scale / 100) for w in target_widths])[measure] / goal - 1)
    best = min(range(100, 800), key=error)
    return [round(w * best / 100) for w in target_widths]


def mnist_small_twin(measure):
    """mnist-small widened until its parameters (measure 0) or its
    multiply-adds (1) equal those of mnist-small-k2: the plain networks
    a CCNN must beat to be worth its size or its compute."""
    def build(k):
        return small_cnn(None, widened((8, 16, 32), 2, measure), [("max_batches", 600)])
    return build


FAMILIES = [
    ("resnet18-cifar", resnet18_cifar, [1, 2, 4, 8],
     "ResNet-18 for CIFAR-10, stages 16-16-32-64 (paper Table 1)"),
    ("wrn-40-4-cifar", wrn_cifar(40, 4), [2], "WRN-40-4 for CIFAR-10; K=2 is CCNN2-40 (paper Table 2)"),
    ("wrn-28-4-cifar", wrn_cifar(28, 4), [3], "WRN-28-4 for CIFAR-10; K=3 is CCNN3-28 (paper Table 2)"),
    ("resnet18-imagenet", resnet18_imagenet, [2], "ResNet-18 for ImageNet; K=2 is CCNN-18 (paper Table 3)"),
    ("alexnet-imagenet", alexnet_imagenet, [2], "AlexNet for ImageNet, with a K=2 CCNN"),
    ("mnist-small", mnist_small, [2], "a small, fast network for 28x28 Fashion-MNIST or MNIST"),
    ("fashion-cnn", fashion_cnn, [2], "the demo's network for 28x28 Fashion-MNIST (make demo)"),
    ("mnist-small-params", mnist_small_twin(0), [],
     "mnist-small widened to the trained parameters of mnist-small-k2 (within 2 %)"),
    ("mnist-small-flops", mnist_small_twin(1), [],
     "mnist-small widened to the forward multiply-adds of mnist-small-k2 (within 5 %)"),
]


def render(build, k, title):
    common, n = build(k)
    kind = "plain twin ([convolutional])" if k is None else "CCNN, [gcconv] with K=%d" % k
    return HEADER % ("%s: %s" % (title, kind)) + net_section(common, k) + "\n".join(n.parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cfg"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    differ = 0
    for name, build, ks, title in FAMILIES:
        for k in [None] + ks:
            path = os.path.join(args.out, name + ("" if k is None else "-k%d" % k) + ".cfg")
            text = render(build, k, title)
            if args.check:
                old = open(path).read() if os.path.exists(path) else None
                if old != text:
                    print("differs: %s" % path)
                    differ = 1
            else:
                with open(path, "w") as f:
                    f.write(text)
    sys.exit(differ)


if __name__ == "__main__":
    main()
