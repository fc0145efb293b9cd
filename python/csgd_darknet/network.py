"""A network loaded into this process through libdarknet.so."""
import collections
import ctypes
import os
import sys

import numpy as np

from . import commands
from ._library import Image, lib
from .errors import DarknetError

Layer = collections.namedtuple("Layer", "index type shape K R")
Layer.__doc__ = """One layer: its cfg section name, its output shape (C, H, W),
and for [gcconv] its branches K and calibration map R (K, size, size); None
for other layers."""


class _stderr_silenced:
    """Sends the process's standard error (the library's layer table) to
    /dev/null for the duration, when on."""

    def __init__(self, on):
        self.on = on

    def __enter__(self):
        if self.on:
            sys.stderr.flush()
            self.saved = os.dup(2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            os.close(null)

    def __exit__(self, *exc):
        if self.on:
            os.dup2(self.saved, 2)
            os.close(self.saved)


def _names_from(names):
    """A list of names, from a list, a names file or a .data file's names=."""
    if names is None or isinstance(names, (list, tuple)):
        return list(names) if names is not None else None
    path = names
    if path.endswith(".data"):
        with open(path) as f:
            values = dict(line.split("=", 1) for line in f if "=" in line)
        values = {k.strip(): v.strip() for k, v in values.items()}
        path = values.get("names") or values.get("labels")
        if not path:
            raise DarknetError("%s: no names= line" % names)
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def _as_chw(image):
    """An (H, W, C) uint8 or float image as a C x H x W float32 array in
    [0, 1], the layout of Darknet's images."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError("an image is (H, W, C) or (H, W); got shape %s" % (a.shape,))
    a = a.astype(np.float32) / 255 if a.dtype == np.uint8 else a.astype(np.float32)
    return np.ascontiguousarray(a.transpose(2, 0, 1))


class Network:
    """A Darknet network: Network(cfg, weights=None, batch=1, names=None).

    The cfg and weights are checked in a child process first (`./darknet
    netcheck`), so that a bad file raises DarknetError with the message
    ./darknet prints instead of ending this process.  names (a list, a names
    file, or a .data file) gives the class names of classify() and detect().
    quiet=False lets the library print its layer table while loading.
    Use it in a with block, or call close()."""

    def __init__(self, cfg, weights=None, batch=1, names=None, quiet=True):
        commands.check_network(cfg, weights)
        with _stderr_silenced(quiet):
            self._net = lib().load_network(cfg.encode(), weights.encode() if weights else None, 0)
        if not self._net:
            raise DarknetError("%s: the network could not be loaded" % cfg)
        lib().set_batch_network(self._net, int(batch))
        self.cfg, self.weights, self.batch = cfg, weights, int(batch)
        self.names = _names_from(names)
        c, h, w = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        lib().dn_input_shape(self._net, c, h, w)
        self.input_shape = (c.value, h.value, w.value)
        self.outputs = lib().dn_outputs(self._net)

    # ---- life ------------------------------------------------------------
    def close(self):
        if self._net:
            lib().free_network(self._net)
            self._net = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _live(self):
        if not self._net:
            raise DarknetError("the network is closed")
        return self._net

    # ---- what it is ----------------------------------------------------------
    @property
    def layers(self):
        net, out = self._live(), []
        for i in range(lib().dn_layer_count(net)):
            c, h, w, size = ctypes.c_int(), ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
            lib().dn_layer_shape(net, i, c, h, w)
            K = lib().dn_gcconv_branches(net, i, size)
            R = None
            if K:
                R = np.zeros((K, size.value, size.value), np.float32)
                lib().dn_gcconv_r(net, i, R.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
            out.append(Layer(i, lib().dn_layer_type(net, i).decode(), (c.value, h.value, w.value), K or None, R))
        return out

    # ---- running it --------------------------------------------------------------
    def _run(self, x):
        """The outputs of a batch of inputs (n x inputs floats), run `batch`
        at a time."""
        net, per = self._live(), int(np.prod(self.input_shape))
        out = np.empty((len(x), self.outputs), np.float32)
        for at in range(0, len(x), self.batch):
            chunk = np.zeros((self.batch, per), np.float32)
            n = min(self.batch, len(x) - at)
            chunk[:n] = x[at:at + n].reshape(n, per)
            y = lib().network_predict(net, chunk.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
            out[at:at + n] = np.ctypeslib.as_array(y, shape=(self.batch * self.outputs,)).reshape(
                self.batch, self.outputs)[:n]
        return out

    def _letterboxed(self, image):
        """The image as `classifier predict` and `detector test` feed it: a
        file read by the library, or an (H, W, C) array, letterboxed to the
        input size.  Returns the letterboxed floats and the image's size."""
        chw = None   # the array behind an image made here (the library frees the others)
        if isinstance(image, (str, bytes, os.PathLike)):
            im = Image()
            path = os.fsencode(image)
            if lib().image_load_checked(path, ctypes.byref(im)) != 0:
                raise DarknetError("%s: cannot read the image" % os.fsdecode(path))
        else:
            chw = _as_chw(image)
            im = Image(chw.shape[2], chw.shape[1], chw.shape[0], chw.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        try:
            c, h, w = self.input_shape
            if im.c != c:
                raise ValueError("the network takes %d channels, the image has %d" % (c, im.c))
            boxed = lib().letterbox_image(im, w, h)
            data = np.ctypeslib.as_array(boxed.data, shape=(c * h * w,)).copy()
            lib().free_image(boxed)
        finally:
            if chw is None:
                lib().free_image(im)
        return data, (im.w, im.h)

    def predict(self, x):
        """Outputs of the network: for an (N, C, H, W) array of the input's
        shape, an (N, outputs) array; for one image, an (H, W, C) array of
        any size or a file (letterboxed as `classifier predict` does), an
        (outputs,) array.  uint8 values are divided by 255."""
        if isinstance(x, (str, bytes, os.PathLike)):
            data, _ = self._letterboxed(x)
            return self._run(data[None])[0]
        a = np.asarray(x)
        if a.ndim == 4:
            if tuple(a.shape[1:]) != self.input_shape:
                raise ValueError("inputs are (N, %d, %d, %d); got %s" % (self.input_shape + (a.shape,)))
            a = a.astype(np.float32) / 255 if a.dtype == np.uint8 else a.astype(np.float32)
            return self._run(np.ascontiguousarray(a))
        data, _ = self._letterboxed(a)
        return self._run(data[None])[0]

    def _name(self, k):
        return self.names[k] if self.names and k < len(self.names) else str(k)

    def classify(self, image, top=5):
        """The top classes of an image (a path or an (H, W, C) array), best
        first: [(name, probability)]."""
        data, _ = self._letterboxed(image)
        p = self._run(data[None])[0]
        best = sorted(range(len(p)), key=lambda k: -p[k])[:top]
        return [(self._name(k), float(p[k])) for k in best]

    def detect(self, image, thresh=0.5, hier_thresh=0.5, nms=0.45):
        """Detections on an image (a path or an (H, W, C) array), as
        `detector test` makes them: [(name, score, (x, y, w, h))], the box's
        centre and size in pixels of the image, best first; one entry per
        class above thresh."""
        data, (w, h) = self._letterboxed(image)
        self._run(data[None])
        n = ctypes.c_int(0)
        dets = lib().get_network_boxes(self._live(), w, h, thresh, hier_thresh, None, 0, ctypes.byref(n))
        try:
            if n.value and nms:
                lib().do_nms_sort(dets, n.value, dets[0].classes, nms)
            found = []
            for i in range(n.value):
                d = dets[i]
                for k in range(d.classes):
                    if d.prob[k] > thresh:
                        found.append((self._name(k), float(d.prob[k]), (d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h)))
        finally:
            lib().free_detections(dets, n.value)
        return sorted(found, key=lambda f: -f[1])
