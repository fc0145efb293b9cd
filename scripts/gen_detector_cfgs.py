#!/usr/bin/python3
"""Write the detector cfgs for PASCAL VOC (20 classes), each with its twin.

For every architecture two files are written into OUT (default cfg/):
NAME.cfg, the plain network with [convolutional] layers, and NAME-gc.cfg,
the same network with the backbone's [convolutional] layers swapped for
[gcconv] (same filters=, branches=K).  A [gcconv] layer with filters=N gives
N*K channels, so every later layer reads K times as many channels; the
detection head stays [convolutional].  Layer indices, routes and shortcuts
are the same in both files.

Architectures:
  yolov2-voc        Darknet-19 backbone, passthrough (reorg) layer, [region]
  yolov3-voc        Darknet-53 backbone, three [yolo] scales
  yolov2-tiny-voc   six-conv backbone, [region]
  yolov3-tiny-voc   seven-conv backbone, two [yolo] scales
  alexnet-yolo-voc  AlexNet's five convolutions (with batch normalisation)
                    and a two-scale YOLO head
  resnet18-yolo-voc ResNet-18 (basic blocks, 2-2-2-2, projection shortcuts
                    where the size halves) and a two-scale YOLO head
  faster-rcnn-alexnet-voc   Faster R-CNN: AlexNet's five convolutions to
                    stride 16, the RPN, [roipool] 6x6, fc6 and fc7 (4096)
  faster-rcnn-resnet18-voc  Faster R-CNN: ResNet-18 to layer3 (stride 16),
                    the RPN, [roipool] 14x14, layer4 on each ROI and global
                    average pooling

The Faster R-CNN cfgs train with batch 4 at 800x600 (docs/detection.md,
section 8); their RPN head and second stage stay [convolutional] and
[connected] in the twins.

usage: gen_detector_cfgs.py [--out DIR] [--branches K] [--check]
  --check   compare with the files in OUT instead of writing them
"""
import argparse
import os
import sys

CLASSES = 20


class Net:
    def __init__(self, gc, branches):
        self.gc, self.k = gc, branches
        self.parts = []
        self.n = 0               # index of the next layer
        self.first_gc = True

    def add(self, text):
        self.parts.append(text)
        self.n += 1
        return self.n - 1

    def conv(self, filters, size, stride=1, bn=True, act="leaky", backbone=True):
        if self.gc and backbone:
            extra = "branches=%d\n" % self.k
            if self.first_gc:
                extra += "expand=1\n"
                self.first_gc = False
            head = "[gcconv]\n"
        else:
            extra, head = "", "[convolutional]\n"
        return self.add(head + ("batch_normalize=1\n" if bn else "") +
                        "filters=%d\nsize=%d\nstride=%d\npad=1\nactivation=%s\n%s"
                        % (filters, size, stride, act, extra))

    def maxpool(self, size=2, stride=2):
        return self.add("[maxpool]\nsize=%d\nstride=%d\n" % (size, stride))

    def shortcut(self, frm, act="linear"):
        return self.add("[shortcut]\nfrom=%d\nactivation=%s\n" % (frm, act))

    def route(self, *layers):
        return self.add("[route]\nlayers=%s\n" % ",".join(str(l) for l in layers))

    def upsample(self):
        return self.add("[upsample]\nstride=2\n")

    def reorg(self):
        return self.add("[reorg]\nstride=2\n")

    def yolo(self, mask, anchors, ignore=.5):
        n = len(anchors) // 2
        return self.add("[yolo]\nmask=%s\nanchors=%s\nclasses=%d\nnum=%d\njitter=.3\n"
                        "ignore_thresh=%g\ntruth_thresh=1\nrandom=1\n"
                        % (",".join(map(str, mask)), ", ".join("%d,%d" % (anchors[2 * i], anchors[2 * i + 1])
                                                              for i in range(n)), CLASSES, n, ignore))

    def rpn(self, channels, sizes, ratios):
        """The RPN head (3x3, then 1x1 with 5A outputs) and [rpn]."""
        a = len(sizes) * len(ratios)
        self.conv(channels, 3, bn=False, act="relu", backbone=False)
        self.add("[convolutional]\nfilters=%d\nsize=1\nstride=1\npad=0\nactivation=linear\n" % (5 * a))
        return self.add("[rpn]\nanchor_sizes=%s\nanchor_ratios=%s\nstride=16\npre_nms_train=12000\n"
                        "post_nms_train=2000\npre_nms_test=6000\npost_nms_test=300\nnms=0.7\n"
                        % (",".join(map(str, sizes)), ",".join("%g" % r for r in ratios)))

    def roipool(self, frm, size):
        return self.add("[roipool]\nfrom=%d\nmode=align\nsize=%d\nrois=128\nfg_fraction=0.25\n" % (frm, size))

    def connected(self, output, act="relu"):
        return self.add("[connected]\noutput=%d\nactivation=%s\n" % (output, act))

    def dropout(self):
        return self.add("[dropout]\nprobability=.5\n")

    def rcnn(self):
        self.connected(5 * CLASSES + 1, "linear")
        return self.add("[rcnn]\nclasses=%d\nmax=90\njitter=0\nscore_thresh=0.05\nnms=0.3\n"
                        "detections=100\n" % CLASSES)

    def region(self, anchors, jitter):
        return self.add("[region]\nanchors=%s\nbias_match=1\nclasses=%d\ncoords=4\nnum=%d\nsoftmax=1\n"
                        "jitter=%g\nrescore=1\nobject_scale=5\nnoobject_scale=1\nclass_scale=1\n"
                        "coord_scale=1\nabsolute=1\nthresh=.6\nrandom=1\n"
                        % (", ".join("%g" % a for a in anchors), CLASSES, len(anchors) // 2, jitter))


def net_section(max_batches, steps, burn_in=1000, subdivisions=16):
    return ("[net]\n# training: batch=64 and subdivisions as below; `detector map` sets batch 1\n"
            "batch=64\nsubdivisions=%d\nwidth=416\nheight=416\nchannels=3\nmomentum=0.9\n"
            "decay=0.0005\nangle=0\nsaturation=1.5\nexposure=1.5\nhue=.1\nlearning_rate=0.001\n"
            "burn_in=%d\nmax_batches=%d\npolicy=steps\nsteps=%d,%d\nscales=.1,.1\n"
            % (subdivisions, burn_in, max_batches, steps[0], steps[1]))


def rcnn_net_section():
    return ("[net]\n# Faster R-CNN: 4 images a step; 800x600 keeps VOC's 4:3 images at 600 px on\n"
            "# the short side when letterboxed; flips come from `detector train`\n"
            "batch=4\nsubdivisions=1\nwidth=800\nheight=600\nchannels=3\nmomentum=0.9\n"
            "decay=0.0005\nlearning_rate=0.004\nmax_batches=17500\npolicy=steps\nsteps=12500\n"
            "scales=.1\n"
            "# 3x3 layers at stride 1 by Winograd's algorithm: about half the time, other\n"
            "# rounding than [convolutional]'s (docs/performance.md)\n"
            "winograd=1\n")


V3_ANCHORS = [10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326]
TINY_ANCHORS = [10, 14, 23, 27, 37, 58, 81, 82, 135, 169, 344, 319]
OUT3 = 3 * (CLASSES + 5)


def yolov2(n):
    def block(filters, reps):
        for i in range(reps):
            n.conv(filters if i % 2 == 0 else filters // 2, 3 if i % 2 == 0 else 1)
    n.conv(32, 3); n.maxpool()
    n.conv(64, 3); n.maxpool()
    block(128, 3); n.maxpool()
    block(256, 3); n.maxpool()
    block(512, 5)
    passthrough = n.n - 1
    n.maxpool()
    block(1024, 5)
    n.conv(1024, 3, backbone=False)
    n.conv(1024, 3, backbone=False)
    n.route(passthrough - n.n)
    n.conv(64, 1, backbone=False)
    n.reorg()
    n.route(-1, -4)
    n.conv(1024, 3, backbone=False)
    n.conv(5 * (CLASSES + 5), 1, bn=False, act="linear", backbone=False)
    n.region([1.3221, 1.73145, 3.19275, 4.00944, 5.05587, 8.09892, 9.47112, 4.84053, 11.2364, 10.0071], .3)


def yolov3(n):
    def residual(filters):
        n.conv(filters // 2, 1)
        n.conv(filters, 3)
        n.shortcut(-3)
    n.conv(32, 3)
    taps = []
    for filters, reps in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)):
        n.conv(filters, 3, stride=2)
        for _ in range(reps):
            residual(filters)
        taps.append(n.n - 1)
    for scale, filters in enumerate((512, 256, 128)):
        if scale:
            n.route(-4)
            n.conv(filters, 1, backbone=False)
            n.upsample()
            n.route(-1, taps[-1 - scale])
        for _ in range(3):
            n.conv(filters, 1, backbone=False)
            n.conv(2 * filters, 3, backbone=False)
        n.conv(OUT3, 1, bn=False, act="linear", backbone=False)
        n.yolo([6 - 3 * scale, 7 - 3 * scale, 8 - 3 * scale], V3_ANCHORS)


def yolov2_tiny(n):
    for f in (16, 32, 64, 128, 256):
        n.conv(f, 3)
        n.maxpool()
    n.conv(512, 3)
    n.maxpool(2, 1)
    n.conv(1024, 3, backbone=False)
    n.conv(1024, 3, backbone=False)
    n.conv(5 * (CLASSES + 5), 1, bn=False, act="linear", backbone=False)
    n.region([1.08, 1.19, 3.42, 4.41, 6.63, 11.38, 9.42, 5.11, 16.62, 10.52], .2)


def two_scale_head(n, fine_tap, coarse_filters=512):
    """yolov3-tiny's head: a 13x13 scale, then an upsampled 26x26 one."""
    n.conv(256, 1, backbone=False)
    n.conv(coarse_filters, 3, backbone=False)
    n.conv(OUT3, 1, bn=False, act="linear", backbone=False)
    n.yolo([3, 4, 5], TINY_ANCHORS, .7)
    n.route(-4)
    n.conv(128, 1, backbone=False)
    n.upsample()
    n.route(-1, fine_tap)
    n.conv(256, 3, backbone=False)
    n.conv(OUT3, 1, bn=False, act="linear", backbone=False)
    n.yolo([0, 1, 2], TINY_ANCHORS, .7)


def yolov3_tiny(n):
    tap = None
    for f in (16, 32, 64, 128, 256):
        n.conv(f, 3)
        if f == 256:
            tap = n.n - 1
        n.maxpool()
    n.conv(512, 3)
    n.maxpool(2, 1)
    n.conv(1024, 3)
    two_scale_head(n, tap)


def alexnet_yolo(n):
    n.conv(96, 11, stride=4)
    n.maxpool(3, 2)
    n.conv(256, 5)
    n.maxpool(3, 2)
    n.conv(384, 3)
    n.conv(384, 3)
    n.conv(256, 3)
    tap = n.n - 1
    n.maxpool(3, 2)
    two_scale_head(n, tap)


def resnet18_yolo(n):
    """Basic blocks; a block that halves the size adds a 1x1, stride-2
    projection of its input (ResNet's option B), so that every [shortcut]
    joins layers of one size and the network can be resized (random=1)."""
    n.conv(64, 7, stride=2)
    n.maxpool()
    tap = None
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            if stage and not block:
                n.conv(filters, 1, stride=2, act="linear")
                n.route(-2)
                n.conv(filters, 3, stride=2)
                n.conv(filters, 3, act="linear")
                n.shortcut(-4, "leaky")
            else:
                n.conv(filters, 3)
                n.conv(filters, 3, act="linear")
                n.shortcut(-3, "leaky")
        if filters == 256:
            tap = n.n - 1
    two_scale_head(n, tap)


RCNN_SIZES = (64, 128, 256, 512)
RCNN_RATIOS = (0.5, 1, 2)


def alexnet_rcnn(n):
    n.conv(96, 11, stride=4)
    n.maxpool(3, 2)
    n.conv(256, 5)
    n.maxpool(3, 2)
    n.conv(384, 3)
    n.conv(384, 3)
    features = n.conv(256, 3)
    n.rpn(256, RCNN_SIZES, RCNN_RATIOS)
    n.roipool(features, 6)
    n.connected(4096)
    n.dropout()
    n.connected(4096)
    n.dropout()
    n.rcnn()


def resnet18_rcnn(n):
    """ResNet-18 to layer3 as the backbone; layer4 (not calibrated: it is
    the second stage) runs on each 14x14 ROI, then global average pooling."""
    n.conv(64, 7, stride=2)
    n.maxpool()
    for stage, filters in enumerate((64, 128, 256)):
        for block in range(2):
            if stage and not block:
                n.conv(filters, 1, stride=2, act="linear")
                n.route(-2)
                n.conv(filters, 3, stride=2)
                n.conv(filters, 3, act="linear")
                n.shortcut(-4, "leaky")
            else:
                n.conv(filters, 3)
                n.conv(filters, 3, act="linear")
                n.shortcut(-3, "leaky")
    features = n.n - 1
    n.rpn(256, RCNN_SIZES, RCNN_RATIOS)
    n.roipool(features, 14)
    for block in range(2):
        if not block:
            n.conv(512, 1, stride=2, act="linear", backbone=False)
            n.route(-2)
            n.conv(512, 3, stride=2, backbone=False)
            n.conv(512, 3, act="linear", backbone=False)
            n.shortcut(-4, "leaky")
        else:
            n.conv(512, 3, backbone=False)
            n.conv(512, 3, act="linear", backbone=False)
            n.shortcut(-3, "leaky")
    n.add("[avgpool]\n")
    n.rcnn()


ARCHS = [
    ("yolov2-voc", yolov2, (80200, (40000, 60000)), "YOLOv2 (Darknet-19 backbone) for VOC"),
    ("yolov3-voc", yolov3, (50200, (40000, 45000)), "YOLOv3 (Darknet-53 backbone) for VOC"),
    ("yolov2-tiny-voc", yolov2_tiny, (40200, (20000, 30000)), "Tiny YOLOv2 for VOC"),
    ("yolov3-tiny-voc", yolov3_tiny, (50200, (40000, 45000)), "Tiny YOLOv3 for VOC"),
    ("alexnet-yolo-voc", alexnet_yolo, (50200, (40000, 45000)),
     "AlexNet backbone (batch-normalised) with a two-scale YOLO head, for VOC"),
    ("resnet18-yolo-voc", resnet18_yolo, (50200, (40000, 45000)),
     "ResNet-18 backbone with a two-scale YOLO head, for VOC"),
    ("faster-rcnn-alexnet-voc", alexnet_rcnn, None,
     "Faster R-CNN with an AlexNet backbone (batch-normalised) and an fc6/fc7 head, for VOC"),
    ("faster-rcnn-resnet18-voc", resnet18_rcnn, None,
     "Faster R-CNN with a ResNet-18 backbone (to layer3) and a layer4 head on 14x14 ROIs, for VOC"),
]


def render(name, build, schedule, title, gc, branches):
    n = Net(gc, branches)
    build(n)
    what = ("the backbone's convolutions are [gcconv] with branches=%d (twin: %s.cfg)" % (branches, name)
            if gc else "plain convolutions (twin with [gcconv]: %s-gc.cfg)" % name)
    head = ("# %s: %s.\n# Written by scripts/gen_detector_cfgs.py; layer indices match the twin's.\n"
            % (title, what))
    if schedule is None:
        return head + rcnn_net_section() + "\n" + "\n".join(n.parts)
    max_batches, steps = schedule
    return head + net_section(max_batches, steps, subdivisions=32 if gc else 16) + "\n" + "\n".join(n.parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="cfg")
    ap.add_argument("--branches", type=int, default=2)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    stale = []
    for name, build, schedule, title in ARCHS:
        for gc in (False, True):
            path = os.path.join(args.out, name + ("-gc" if gc else "") + ".cfg")
            text = render(name, build, schedule, title, gc, args.branches)
            if args.check:
                try:
                    with open(path) as f:
                        if f.read() != text:
                            stale.append(path)
                except OSError:
                    stale.append(path)
            else:
                with open(path, "w") as f:
                    f.write(text)
    if stale:
        sys.exit("out of date: " + " ".join(stale))


if __name__ == "__main__":
    main()
