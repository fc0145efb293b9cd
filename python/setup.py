"""Records the checkout this package is installed from (csgd_darknet/_checkout.py
in the built package), so that an installed copy finds libdarknet.so and
./darknet there.  DARKNET_LIB and DARKNET_BIN still take precedence."""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class build_with_checkout(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "csgd_darknet", "_checkout.py")
        with open(target, "w") as f:
            f.write("ROOT = %r\n" % os.path.dirname(HERE))


setup(cmdclass={"build_py": build_with_checkout})
