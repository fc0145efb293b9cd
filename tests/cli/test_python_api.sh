#!/bin/sh
# libdarknet.so keeps upstream's C API for ctypes users: load a network and
# its weights, classify an image, read metadata, as python/darknet.py does.
. "$(dirname "$0")/lib.sh"
shapes_dataset
CFG=$WORK/api.cfg
sed 's/^max_batches=.*/max_batches=2/; s/^\[net\]/[net]\nseed=3/' tests/data/tiny-classifier.cfg > "$CFG"
sed "s#backup=.*#backup=$WORK#" "$SHAPES/shapes.data" > "$WORK/api.data"
check train ./darknet classifier train "$WORK/api.data" "$CFG"

cat > "$WORK/api.py" <<'PY'
import sys
from ctypes import CDLL, RTLD_GLOBAL, POINTER, Structure, c_char_p, c_float, c_int, c_void_p

class IMAGE(Structure):
    _fields_ = [("w", c_int), ("h", c_int), ("c", c_int), ("data", POINTER(c_float))]

class METADATA(Structure):
    _fields_ = [("classes", c_int), ("names", POINTER(c_char_p))]

lib_path, cfg, weights, data, image = sys.argv[1:6]
lib = CDLL(lib_path, RTLD_GLOBAL)
lib.load_network.argtypes = [c_char_p, c_char_p, c_int]
lib.load_network.restype = c_void_p
lib.network_width.argtypes = [c_void_p]
lib.network_height.argtypes = [c_void_p]
lib.get_metadata.argtypes = [c_char_p]
lib.get_metadata.restype = METADATA
lib.load_image_color.argtypes = [c_char_p, c_int, c_int]
lib.load_image_color.restype = IMAGE
lib.network_predict_image.argtypes = [c_void_p, IMAGE]
lib.network_predict_image.restype = POINTER(c_float)

net = lib.load_network(cfg.encode(), weights.encode(), 0)
meta = lib.get_metadata(data.encode())
assert (lib.network_width(net), lib.network_height(net)) == (32, 32)
assert meta.classes == 4, meta.classes
names = [meta.names[i].decode() for i in range(meta.classes)]
assert names == ["hbars", "vbars", "disc", "cross"], names
probs = lib.network_predict_image(net, lib.load_image_color(image.encode(), 0, 0))
p = [probs[i] for i in range(4)]
assert all(0 <= x <= 1 for x in p) and abs(sum(p) - 1) < 1e-4, p
print("probabilities", p)
PY
# A SANITIZE=1 library needs the ASan runtime loaded before python itself.
asan=$(ldd "$ROOT/libdarknet.so" | awk '/libasan/ { print $3 }')
check ctypes_api env ${asan:+LD_PRELOAD=$asan} /usr/bin/python3 "$WORK/api.py" "$ROOT/libdarknet.so" "$CFG" \
    "$WORK/api.weights" "$WORK/api.data" "$(head -1 "$SHAPES/valid.list")"
