"""csgd_darknet: CSGD Darknet from Python.

    from csgd_darknet import Network, train, fold, DarknetError

    with Network("cfg/mnist-small-k2.cfg", "backup/mnist-small-k2.weights") as net:
        probabilities = net.predict(images)          # (N, C, H, W) -> (N, outputs)
        for layer in net.layers:
            print(layer.type, layer.shape, layer.K)

    for record in train("data/fashion-mnist.data", "cfg/mnist-small-k2.cfg", dont_show=True):
        print(record)

Over libdarknet.so (ctypes) and ./darknet, with numpy; see docs/python.md.
"""
from .commands import fold, train
from .errors import DarknetError
from .network import Layer, Network

__all__ = ["DarknetError", "Layer", "Network", "fold", "train"]
