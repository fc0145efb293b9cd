#!/bin/sh
# The Python package python/csgd_darknet: tests/python/test_package.py
# under pytest (one PASS or FAIL line a test), and `pip install ./python`
# into a virtual environment, imported from outside the checkout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/detlib.sh"
PY=/usr/bin/python3
if ! $PY -c "import pytest" 2> /dev/null; then
    fail python_package "pytest is missing: run 'make deps' (python3-pytest)"
    exit 0
fi
shapes_dataset
voc_shapes
convert_to "$WORK/dn"
# A SANITIZE=1 library needs the ASan runtime loaded before python itself.
asan=$(ldd "$ROOT/libdarknet.so" | awk '/libasan/ { print $3 }')
WORK=$WORK SHAPES=$SHAPES VOC_DN=$WORK/dn env ${asan:+LD_PRELOAD=$asan} \
    $PY -m pytest -v -p no:cacheprovider tests/python > "$WORK/pytest.out" 2>&1
sed -n 's/^tests\/python\/[^:]*::\([A-Za-z_0-9]*\) PASSED.*/PASS \1/p;
        s/^tests\/python\/[^:]*::\([A-Za-z_0-9]*\) \(FAILED\|ERROR\).*/FAIL \1/p' "$WORK/pytest.out"
grep -q ' passed' "$WORK/pytest.out" || fail pytest_ran "$(tail -5 "$WORK/pytest.out")"
grep -E '^(E |FAILED|ERROR)' "$WORK/pytest.out" | head -20

# pip install ./python (no index, the system's setuptools): the installed
# copy finds the checkout it came from.
rm -rf "$WORK/venv" python/build python/*.egg-info
$PY -m venv --system-site-packages "$WORK/venv" > "$WORK/venv.out" 2>&1 &&
    "$WORK/venv/bin/pip" install --no-index --no-build-isolation -q ./python > "$WORK/pip.out" 2>&1
status=$?
rm -rf python/build python/*.egg-info
if [ $status -eq 0 ]; then pass pip_install; else fail pip_install "$(tail -3 "$WORK/pip.out")"; fi
(cd / && env -u PYTHONPATH "$WORK/venv/bin/python" -c "
import csgd_darknet, sys
assert 'site-packages' in csgd_darknet.__file__, csgd_darknet.__file__
with csgd_darknet.Network('$ROOT/cfg/mnist-small-k2.cfg') as net:
    assert net.input_shape == (3, 28, 28)
") > "$WORK/installed.out" 2>&1 && pass installed_package_finds_the_library \
    || fail installed_package_finds_the_library "$(tail -3 "$WORK/installed.out")"
