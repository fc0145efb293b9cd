"""The Python package (python/csgd_darknet) against ./darknet: predictions
equal `classifier predict` and `detector test` on the same images and
weights; errors raise and the interpreter lives on; train() yields one
record an iteration and ends with weights; arrays have their dtype and
shape.  Run by tests/cli/test_python_package.sh, which makes the data sets
and passes their folders in SHAPES, VOC_DN and WORK."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
os.chdir(ROOT)

from csgd_darknet import DarknetError, Network, fold, train  # noqa: E402

WORK = os.environ["WORK"]
SHAPES = os.environ["SHAPES"]
VOC_DN = os.environ["VOC_DN"]
ITERATIONS = 3


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def classifier_cfg(source, name):
    """A seeded short run of a shipped cfg, on the 4 classes of the shapes set."""
    text = open(source).read()
    text = re.sub(r"(?m)^max_batches=.*", "max_batches=%d" % ITERATIONS, text)
    text = re.sub(r"(?m)^(output|filters)=10$", r"\1=4", text)
    text = re.sub(r"(?m)^seed=.*\n", "", text).replace("[net]", "[net]\nseed=3", 1)
    return write(os.path.join(WORK, name + ".cfg"), text)


@pytest.fixture(scope="module")
def shapes_data():
    text = open(os.path.join(SHAPES, "shapes.data")).read()
    return write(os.path.join(WORK, "shapes.data"), re.sub(r"(?m)^backup=.*", "backup=" + WORK, text))


@pytest.fixture(scope="module")
def trained(shapes_data):
    """tests/data/tiny-classifier.cfg trained through train(): its records."""
    cfg = classifier_cfg("tests/data/tiny-classifier.cfg", "tiny")
    records = list(train(shapes_data, cfg, dont_show=True))
    return cfg, records


@pytest.fixture(scope="module")
def ccnn(shapes_data):
    """cfg/mnist-small-k2.cfg (three [gcconv], a [gcmerge]) trained a few steps."""
    text = open("cfg/mnist-small-k2.cfg").read()
    text = re.sub(r"(?m)^(width|height)=.*", r"\1=32", text)
    cfg = write(os.path.join(WORK, "ccnn-src.cfg"), text)
    cfg = classifier_cfg(cfg, "ccnn")
    records = list(train(shapes_data, cfg, dont_show=True))
    return cfg, records[-1]["path"]


def images(n):
    return [os.path.join(SHAPES, "valid", f) for f in sorted(os.listdir(os.path.join(SHAPES, "valid")))[:n]]


def test_train_yields_one_record_an_iteration_and_ends_with_weights(trained):
    cfg, records = trained
    kinds = [r["type"] for r in records]
    assert kinds[0] == "start" and kinds[-2:] == ["end", "weights"], kinds
    iterations = [r["iteration"] for r in records if r["type"] == "iteration"]
    assert iterations == list(range(1, ITERATIONS + 1))
    assert os.path.getsize(records[-1]["path"]) > 0
    assert all(np.isfinite(r["loss"]) for r in records if r["type"] == "iteration")


def test_predictions_equal_classifier_predict(trained, shapes_data):
    cfg, records = trained
    weights = records[-1]["path"]
    with Network(cfg, weights, names=shapes_data) as net:
        for path in images(4):
            out = subprocess.run(["./darknet", "classifier", "predict", shapes_data, cfg, weights, path, "-t", "4"],
                                 capture_output=True, text=True, check=True).stdout
            theirs = sorted(re.findall(r"(?m)^\s*([0-9.]+)%: (\S+)$", out))
            ours = sorted(("%.2f" % (100 * p), name) for name, p in net.classify(path, top=4))
            assert ours == theirs, (path, ours, theirs)


def test_array_image_equals_file_image(trained, shapes_data):
    cfg, records = trained
    cv2 = pytest.importorskip("cv2")
    with Network(cfg, records[-1]["path"]) as net:
        for path in images(3):
            rgb = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            by_array = net.predict(rgb)
            assert by_array.shape == (4,) and by_array.dtype == np.float32
            assert np.array_equal(by_array, net.predict(path))   # the same bytes, the same floats


def test_arrays_have_their_dtype_and_shape(ccnn):
    cfg, weights = ccnn
    with Network(cfg, weights, batch=2) as net:
        assert net.input_shape == (3, 32, 32)
        x = np.random.default_rng(1).random((5,) + net.input_shape, dtype=np.float32)
        y = net.predict(x)
        assert y.dtype == np.float32 and y.shape == (5, net.outputs)
        assert np.allclose(y.sum(axis=1), 1, atol=1e-5)   # a softmax: 10 terms, each rounded
        # batch 2 over 5 inputs: the same as one at a time
        with Network(cfg, weights, batch=1) as one:
            assert np.array_equal(np.stack([one.predict(x[i:i + 1])[0] for i in range(5)]), y)
        u8 = (x * 255).astype(np.uint8)
        assert net.predict(u8).shape == (5, net.outputs)
        with pytest.raises(ValueError):
            net.predict(np.zeros((1, 3, 16, 16), np.float32))
        layers = net.layers
        gc = [l for l in layers if l.type == "gcconv"]
        assert len(gc) == 3 and [l.type for l in layers].count("gcmerge") == 1
        for l in gc:
            assert l.K == 2 and l.R.dtype == np.float32 and l.R.shape == (2, 3, 3)
            assert np.allclose(l.R.sum(axis=0), 1, atol=1e-6) and (l.R >= 0).all()
        assert layers[0].shape == (16, 32, 32) and layers[-1].shape == (4, 1, 1)
        assert all(l.K is None and l.R is None for l in layers if l.type != "gcconv")


def test_a_bad_cfg_raises_and_the_interpreter_lives_on(trained):
    bad = write(os.path.join(WORK, "bad.cfg"), "[net]\nwidth=8\nheight=8\nchannels=3\n[gcconv]\nbranches=two\n")
    with pytest.raises(DarknetError, match=r"bad.cfg: section 0 \[gcconv\]: branches=two: not a whole number"):
        Network(bad)
    cfg, records = trained
    cut = os.path.join(WORK, "cut.weights")
    with open(records[-1]["path"], "rb") as f, open(cut, "wb") as g:
        g.write(f.read(1000))
    with pytest.raises(DarknetError, match="cut.weights"):
        Network(cfg, cut)
    with pytest.raises(DarknetError, match="no such file"):
        Network(os.path.join(WORK, "missing.cfg"))
    with Network(cfg, records[-1]["path"]) as net:
        with pytest.raises(DarknetError, match="cannot read the image"):
            net.classify(os.path.join(WORK, "bad.cfg"))
    assert subprocess.run([sys.executable, "-c", "print(1)"], capture_output=True).returncode == 0


def test_train_raises_with_the_error_line(shapes_data):
    bad = write(os.path.join(WORK, "badtrain.cfg"), "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=3\nseed=1\n"
                "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\nbatch_normalize=maybe\n")
    with pytest.raises(DarknetError, match="batch_normalize=maybe"):
        list(train(shapes_data, bad))


def test_fold_gives_the_same_predictions(ccnn):
    cfg, weights = ccnn
    out_cfg, out_weights = os.path.join(WORK, "fold.cfg"), os.path.join(WORK, "fold.weights")
    # [gcmerge] mode=mean folds into a [convolutional]; a max over the
    # branches has no upstream layer, and keep leaves it (docs/deploy.md)
    max_cfg = write(os.path.join(WORK, "ccnn-max.cfg"), re.sub(r"(?m)^mode=mean", "mode=max", open(cfg).read()))
    with pytest.raises(DarknetError, match="cannot be folded"):
        fold(max_cfg, weights, out_cfg, out_weights)
    x = np.random.default_rng(2).random((3, 3, 32, 32), dtype=np.float32)
    for source, keep in ((cfg, False), (max_cfg, True)):
        fold(source, weights, out_cfg, out_weights, keep=keep)
        text = open(out_cfg).read()
        assert not re.search(r"(?m)^\[gcconv\]", text)
        assert bool(re.search(r"(?m)^\[gcmerge\]", text)) == keep
        with Network(source, weights) as a, Network(out_cfg, out_weights) as b:
            assert [l.type for l in b.layers].count("gcconv") == 0
            assert np.abs(a.predict(x) - b.predict(x)).max() < 1e-4   # probabilities; the layers: test_gcfold.sh


@pytest.fixture(scope="module")
def detector():
    data = os.path.join(VOC_DN, "voc.data")
    text = open("tests/data/tiny-det.cfg").read()
    text = re.sub(r"(?m)^max_batches=.*", "max_batches=20", text)
    text = re.sub(r"(?m)^steps=.*", "steps=15", text)
    cfg = write(os.path.join(WORK, "det.cfg"), text)
    records = list(train(data, cfg))
    return data, cfg, records[-1]["path"]


def test_detections_equal_detector_test(detector):
    data, cfg, weights = detector
    test = [l.strip() for l in open(os.path.join(VOC_DN, "test.txt"))][:3]
    total = 0
    with Network(cfg, weights, names=data) as net:
        for path in test:
            out = subprocess.run(["./darknet", "detector", "test", data, cfg, weights, path, "-thresh", "0.05",
                                  "-out", os.path.join(WORK, "predictions")],
                                 capture_output=True, text=True, check=True).stdout
            theirs = sorted(re.findall(r"(?m)^(\S+): (\d+)%$", out))
            found = net.detect(path, thresh=0.05)
            ours = sorted((name, "%.0f" % (100 * score)) for name, score, box in found)
            assert ours == theirs, (path, ours, theirs)
            for name, score, (x, y, bw, bh) in found:
                assert 0.05 < score <= 1 and bw > 0 and bh > 0 and isinstance(x, float)
            total += len(found)
    assert total > 0   # the comparison saw detections
