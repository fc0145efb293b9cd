"""Where libdarknet.so and ./darknet are, and the C functions the package calls.

The library is DARKNET_LIB when set, else libdarknet.so at the root of the
checkout this package belongs to (the folder above python/, or the one
recorded when it was installed with pip).  The program is DARKNET_BIN, or
./darknet beside the library.
"""
import ctypes
import os

from .errors import DarknetError

try:
    from ._checkout import ROOT as _INSTALLED_FROM   # written by `pip install ./python`
except ImportError:
    _INSTALLED_FROM = None

_HERE = os.path.dirname(os.path.abspath(__file__))


def checkout_root():
    """The checkout the package runs from: the one it lies in, or the one it
    was installed from."""
    for root in (os.path.dirname(os.path.dirname(_HERE)), _INSTALLED_FROM):
        if root and os.path.exists(os.path.join(root, "libdarknet.so")):
            return root
    return os.path.dirname(os.path.dirname(_HERE))


def library_path():
    path = os.environ.get("DARKNET_LIB") or os.path.join(checkout_root(), "libdarknet.so")
    if not os.path.exists(path):
        raise DarknetError("%s: no such library; run `make` in the checkout, or set DARKNET_LIB" % path)
    return path


def program_path():
    path = os.environ.get("DARKNET_BIN") or os.path.join(os.path.dirname(library_path()), "darknet")
    if not os.access(path, os.X_OK):
        raise DarknetError("%s: no such program; run `make` in the checkout, or set DARKNET_BIN" % path)
    return path


class Image(ctypes.Structure):
    _fields_ = [("w", ctypes.c_int), ("h", ctypes.c_int), ("c", ctypes.c_int),
                ("data", ctypes.POINTER(ctypes.c_float))]


class Box(ctypes.Structure):
    _fields_ = [("x", ctypes.c_float), ("y", ctypes.c_float), ("w", ctypes.c_float), ("h", ctypes.c_float)]


class Detection(ctypes.Structure):
    _fields_ = [("bbox", Box), ("classes", ctypes.c_int), ("prob", ctypes.POINTER(ctypes.c_float)),
                ("mask", ctypes.POINTER(ctypes.c_float)), ("objectness", ctypes.c_float),
                ("sort_class", ctypes.c_int)]


_P = ctypes.c_void_p
_INT_P = ctypes.POINTER(ctypes.c_int)
_FLOAT_P = ctypes.POINTER(ctypes.c_float)
_SIGNATURES = {
    "load_network": ([ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int], _P),
    "set_batch_network": ([_P, ctypes.c_int], None),
    "free_network": ([_P], None),
    "network_predict": ([_P, _FLOAT_P], _FLOAT_P),
    "letterbox_image": ([Image, ctypes.c_int, ctypes.c_int], Image),
    "image_load_checked": ([ctypes.c_char_p, ctypes.POINTER(Image)], ctypes.c_int),
    "free_image": ([Image], None),
    "get_network_boxes": ([_P, ctypes.c_int, ctypes.c_int, ctypes.c_float, ctypes.c_float, _INT_P, ctypes.c_int,
                           _INT_P], ctypes.POINTER(Detection)),
    "do_nms_sort": ([ctypes.POINTER(Detection), ctypes.c_int, ctypes.c_int, ctypes.c_float], None),
    "free_detections": ([ctypes.POINTER(Detection), ctypes.c_int], None),
    "dn_input_shape": ([_P, _INT_P, _INT_P, _INT_P], ctypes.c_int),
    "dn_outputs": ([_P], ctypes.c_int),
    "dn_batch": ([_P], ctypes.c_int),
    "dn_layer_count": ([_P], ctypes.c_int),
    "dn_layer_type": ([_P, ctypes.c_int], ctypes.c_char_p),
    "dn_layer_shape": ([_P, ctypes.c_int, _INT_P, _INT_P, _INT_P], ctypes.c_int),
    "dn_gcconv_branches": ([_P, ctypes.c_int, _INT_P], ctypes.c_int),
    "dn_gcconv_r": ([_P, ctypes.c_int, _FLOAT_P], None),
}

_lib = None


def lib():
    """The loaded library, its functions typed."""
    global _lib
    if _lib is None:
        loaded = ctypes.CDLL(library_path(), ctypes.RTLD_GLOBAL)
        for name, (args, result) in _SIGNATURES.items():
            function = getattr(loaded, name)
            function.argtypes = args
            function.restype = result
        _lib = loaded
    return _lib
