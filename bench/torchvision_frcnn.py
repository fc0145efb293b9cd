#!/usr/bin/python3
"""Training and inference speed of torchvision's Faster R-CNN built as one
of our two-stage cfgs is, layer by layer, for bench/det_speed.sh.
--network picks which: resnet18 (the default) or alexnet.

--network resnet18, as cfg/faster-rcnn-resnet18-voc.cfg:
  - trunk: ResNet-18 (torchvision.models.resnet18, untrained, batch norm in
    training mode as ours) to layer3: 256 channels at stride 16;
  - RPN: a 3x3 convolution and the two 1x1 heads, anchors of 64 to 512 px at
    ratios 0.5, 1 and 2, 12000 / 2000 proposals in training (6000 / 300 at
    test), NMS at 0.7, 256 anchors sampled an image;
  - RoIAlign 14x14, sampling ratio 2, 128 ROIs an image, a quarter
    foreground;
  - box head: ResNet-18's layer4 on the ROIs, average pooling, one linear
    layer for the classes + 1 scores and the per-class boxes;
  - SGD at lr 0.004, momentum 0.9, weight decay 0.0005.
What differs from ours: torchvision's activations are ReLU where the cfg
has leaky ReLU (slope 0.1): everywhere in the trunk and the layer4 head
(the RPN's 3x3 convolution is ReLU in both); the stem's pool is
torchvision's 3x3 window with padding 1 where the cfg's [maxpool] is 2x2 at
stride 2 (both give 200x150); the images are resized to exactly 800x600
here (ours letterbox with the cfg's jitter) and normalised by torchvision's
transform; torchvision also predicts boxes for the background class; the
losses are torchvision's (smooth L1 with beta 1/9 for the RPN).

--network alexnet, as cfg/faster-rcnn-alexnet-voc.cfg:
  - trunk: five convolutions without bias, each followed by batch norm (in
    training mode) and leaky ReLU of slope 0.1, as the cfg's
    batch_normalize=1 and activation=leaky: 96 11x11 at stride 4 (padding
    5), a 3x3 max pool at stride 2, 256 5x5 (padding 2), the same max pool,
    384 3x3, 384 3x3 and 256 3x3 (padding 1).  Darknet's [maxpool] without
    padding= pads size - 1 = 2 in all, split 1 before and 1 after, which is
    torch's MaxPool2d(3, 2, padding=1) window for window.  800x600 gives
    200x150, 100x75, then 50x38 with 256 channels at the RPN, as ours;
  - RPN: as the ResNet-18 network's (a 3x3 convolution of 256 with bias and
    ReLU, the 1x1 heads of 12 and 48 channels where ours has one of 60;
    the same anchors, proposal counts and NMS);
  - RoIAlign 6x6 from the trunk's last layer, sampling ratio 2 (ours: 2 x 2
    samples a bin), 128 ROIs an image, a quarter foreground;
  - box head: fc6 and fc7, 9216 -> 4096 -> 4096, each a linear layer with
    bias, ReLU, then dropout 0.5, as the cfg's [connected] and [dropout];
    then one linear layer for the classes + 1 scores and another for the
    boxes;
  - SGD as above.
What differs from ours: torchvision's box layer predicts 4 coordinates for
the background class too (4 x (classes + 1) outputs where ours has
4 x classes); the images are resized to exactly 800x600 (ours letterbox)
and normalised by ImageNet's mean and deviation, and torchvision pads the
batch to 608 rows (a multiple of 32) where ours runs 600 (the map at the
RPN is 50x38 either way); the losses are torchvision's, as above; the
initial weights are PyTorch's and torchvision's defaults, ours Darknet's.

The images and boxes are the same files as ours: a darknet image list
whose label files (class cx cy w h, relative) sit beside it as darknet
finds them (images/ -> labels/, .jpg -> .txt).

usage: torchvision_frcnn.py LIST [--network resnet18|alexnet] [--classes N]
       [--batch 4] [--iterations N] [--warmup W] [--threads T] [--predict N]
Prints one line per timed iteration and, at the end,
  train_s_per_iteration=<median> predict_s=<median of --predict runs>
"""
import argparse
import statistics
import time

import numpy as np
import torch
import torchvision
from torchvision.io import ImageReadMode, read_image
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.models.detection.rpn import AnchorGenerator
from torchvision.ops import MultiScaleRoIAlign

W, H = 800, 600


class Trunk(torch.nn.Module):
    """ResNet-18 to layer3 (stride 16, 256 channels)."""

    def __init__(self, resnet):
        super().__init__()
        self.body = torch.nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool,
                                        resnet.layer1, resnet.layer2, resnet.layer3)
        self.out_channels = 256

    def forward(self, x):
        return self.body(x)


class Layer4Head(torch.nn.Module):
    """ResNet-18's layer4 on the pooled ROIs, then average pooling."""

    def __init__(self, resnet):
        super().__init__()
        self.layer4 = resnet.layer4

    def forward(self, x):
        return torch.flatten(torch.nn.functional.adaptive_avg_pool2d(self.layer4(x), 1), 1)


def build_resnet18(classes):
    resnet = torchvision.models.resnet18(weights=None)
    anchors = AnchorGenerator(sizes=((64, 128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),))
    return FasterRCNN(
        Trunk(resnet), num_classes=None, min_size=H, max_size=W,
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=12000, rpn_post_nms_top_n_train=2000,
        rpn_pre_nms_top_n_test=6000, rpn_post_nms_top_n_test=300, rpn_nms_thresh=0.7,
        box_roi_pool=MultiScaleRoIAlign(["0"], output_size=14, sampling_ratio=2),
        box_head=Layer4Head(resnet), box_predictor=FastRCNNPredictor(512, classes + 1),
        box_batch_size_per_image=128, box_positive_fraction=0.25,
        box_score_thresh=0.05, box_nms_thresh=0.3, box_detections_per_img=100)


def conv_bn_leaky(c_in, c_out, size, stride):
    """A [convolutional] with batch_normalize=1, pad=1 and activation=leaky."""
    return [torch.nn.Conv2d(c_in, c_out, size, stride=stride, padding=size // 2, bias=False),
            torch.nn.BatchNorm2d(c_out), torch.nn.LeakyReLU(0.1, inplace=True)]


def darknet_maxpool(size, stride):
    """A [maxpool] without padding=: size - 1 in all, half of it (rounded
    down) before; for size 3 that is one row and column on each side."""
    return torch.nn.MaxPool2d(size, stride=stride, padding=(size - 1) // 2)


class AlexNetTrunk(torch.nn.Module):
    """Layers 0 to 6 of cfg/faster-rcnn-alexnet-voc.cfg (256 channels, 50x38 at 800x600)."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            *conv_bn_leaky(3, 96, 11, 4), darknet_maxpool(3, 2),
            *conv_bn_leaky(96, 256, 5, 1), darknet_maxpool(3, 2),
            *conv_bn_leaky(256, 384, 3, 1),
            *conv_bn_leaky(384, 384, 3, 1),
            *conv_bn_leaky(384, 256, 3, 1))
        self.out_channels = 256

    def forward(self, x):
        return self.body(x)


class FcHead(torch.nn.Module):
    """fc6 and fc7 on the 6x6 ROIs: linear, ReLU, dropout 0.5, twice."""

    def __init__(self, inputs, outputs=4096):
        super().__init__()
        self.fc = torch.nn.Sequential(
            torch.nn.Linear(inputs, outputs), torch.nn.ReLU(inplace=True), torch.nn.Dropout(0.5),
            torch.nn.Linear(outputs, outputs), torch.nn.ReLU(inplace=True), torch.nn.Dropout(0.5))

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


def build_alexnet(classes):
    anchors = AnchorGenerator(sizes=((64, 128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),))
    return FasterRCNN(
        AlexNetTrunk(), num_classes=None, min_size=H, max_size=W,
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=12000, rpn_post_nms_top_n_train=2000,
        rpn_pre_nms_top_n_test=6000, rpn_post_nms_top_n_test=300, rpn_nms_thresh=0.7,
        box_roi_pool=MultiScaleRoIAlign(["0"], output_size=6, sampling_ratio=2),
        box_head=FcHead(256 * 6 * 6), box_predictor=FastRCNNPredictor(4096, classes + 1),
        box_batch_size_per_image=128, box_positive_fraction=0.25,
        box_score_thresh=0.05, box_nms_thresh=0.3, box_detections_per_img=100)


NETWORKS = {"resnet18": build_resnet18, "alexnet": build_alexnet}


def label_path(image):
    return image.replace("/JPEGImages/", "/labels/").replace("/images/", "/labels/").rsplit(".", 1)[0] + ".txt"


def load(path):
    """The image at 800x600 in [0, 1] and its boxes in pixels."""
    img = read_image(path, ImageReadMode.RGB).float() / 255
    img = torch.nn.functional.interpolate(img[None], size=(H, W), mode="bilinear", align_corners=False)[0]
    boxes, labels = [], []
    for line in open(label_path(path)):
        f = line.split()
        if len(f) != 5:
            continue
        c, x, y, w, h = int(f[0]), *map(float, f[1:])
        boxes.append([(x - w / 2) * W, (y - h / 2) * H, (x + w / 2) * W, (y + h / 2) * H])
        labels.append(c + 1)
    t = {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
         "labels": torch.tensor(labels, dtype=torch.int64)}
    return img, t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("list")
    ap.add_argument("--network", choices=sorted(NETWORKS), default="resnet18")
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--predict", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    paths = [p.strip() for p in open(a.list) if p.strip()]
    model = NETWORKS[a.network](a.classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.004, momentum=0.9, weight_decay=0.0005)
    rng = np.random.default_rng(1)
    times = []
    model.train()
    for it in range(a.warmup + a.iterations):
        batch = [load(paths[i]) for i in rng.integers(0, len(paths), a.batch)]
        t0 = time.perf_counter()
        losses = model([b[0] for b in batch], [b[1] for b in batch])
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if it >= a.warmup:
            times.append(dt)
        print("iteration %d: loss %.4f, %.3f s" % (it + 1, float(loss), dt), flush=True)
    model.eval()
    predict = []
    with torch.no_grad():
        for i in range(a.predict + 1):
            img, _ = load(paths[i % len(paths)])
            t0 = time.perf_counter()
            model([img])
            if i:
                predict.append(time.perf_counter() - t0)
    print("train_s_per_iteration=%.4f predict_s=%.4f" % (statistics.median(times), statistics.median(predict)))


if __name__ == "__main__":
    main()
