"""Data sets: scikit-learn sets, IDX and CIFAR-10 files in their standard formats (written here, and
the real ones when present), stratified subsets, preprocessing, corrupted files, malicious pickles,
and augmentation against a NumPy reference."""
import gzip
import os
import pathlib
import pickle

import numpy as np
from sklearn.datasets import load_digits
import pytest

import reference as ref
from mlp_scratch import MLP, SGD, Trainer, datasets
from mlp_scratch.datasets import Augmentation, cifar, idx, sources
from mlp_scratch.kernels.training.augment import kernel_settings
from mlp_scratch.kernels import random as random_kernels

SHARED = pathlib.Path(os.environ.get(datasets.DATA_ENV) or pathlib.Path(__file__).parents[2] / "shared" / "data")


@pytest.mark.parametrize("name, features, classes", [
    ("digits", 64, 10), ("iris", 4, 3), ("wine", 13, 3), ("breast_cancer", 30, 2),
    ("moons", 2, 2), ("circles", 2, 2), ("blobs", 2, 3), ("classification", 20, 3)])
def test_sklearn_sets_load_with_the_right_shapes(name, features, classes):
    data = datasets.load(name, seed=1)
    total = len(data.y_train) + len(data.y_val) + len(data.y_test)
    for X, y in ((data.X_train, data.y_train), (data.X_val, data.y_val), (data.X_test, data.y_test)):
        assert X.dtype == np.float32 and X.flags.c_contiguous and X.shape[1] == features
        assert y.dtype == np.int64 and len(y) == len(X)
    assert data.n_classes == classes and set(np.unique(data.y_train)) == set(range(classes))
    assert len(data.y_test) == pytest.approx(0.2 * total, abs=classes)
    assert len(data.y_val) == pytest.approx(0.1 * total, abs=classes)
    # standardization fitted on the training split only
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-5)
    assert not np.allclose(data.X_test.mean(axis=0), 0, atol=1e-5)


def test_generator_options_and_float64():
    data = datasets.load("moons", n_samples=300, noise=0.3, dtype="float64", seed=2)
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 300 and data.X_train.dtype == np.float64
    assert data.meta["options"]["noise"] == 0.3
    with pytest.raises(ValueError, match="moons options must be among"):
        datasets.load("moons", centres=3)


def fake_images(n, shape, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), rng.permutation(np.arange(n) % 10)


@pytest.fixture
def mnist_folder(tmp_path):
    """Tiny MNIST in the standard IDX layout: gzip for the training files, plain for the test files."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    train, train_labels = fake_images(200, (28, 28), 0)
    test, test_labels = fake_images(50, (28, 28), 1)
    idx.write_idx(folder / "train-images-idx3-ubyte.gz", train)
    idx.write_idx(folder / "train-labels-idx1-ubyte.gz", train_labels)
    idx.write_idx(folder / "t10k-images-idx3-ubyte", test)
    idx.write_idx(folder / "t10k-labels-idx1-ubyte", test_labels)
    return tmp_path, train, train_labels, test, test_labels


def test_idx_reader_matches_what_was_written(mnist_folder):
    root, train, train_labels, test, test_labels = mnist_folder
    np.testing.assert_array_equal(idx.read_idx(root / "mnist" / "train-images-idx3-ubyte.gz"), train)
    with gzip.open(root / "mnist" / "train-labels-idx1-ubyte.gz") as f:
        assert f.read(4) == b"\x00\x00\x08\x01"  # the standard header, byte for byte
    data = datasets.load("mnist", data_dir=root, preprocessing="none", n_val=20, seed=0)
    assert data.meta["image_shape"] == [1, 28, 28] and data.meta["source"].endswith("mnist")
    np.testing.assert_array_equal(data.X_test, test.reshape(50, -1))
    np.testing.assert_array_equal(data.y_test, test_labels)
    rebuilt = np.concatenate([data.X_train, data.X_val])
    assert sorted(map(bytes, rebuilt.astype(np.uint8))) == sorted(map(bytes, train.reshape(200, -1)))


def test_data_folder_from_the_environment_variable(mnist_folder, monkeypatch):
    monkeypatch.setenv(datasets.DATA_ENV, str(mnist_folder[0]))
    assert datasets.load("mnist", n_train=30, n_val=10, n_test=10).meta["sizes"] == {"train": 30, "val": 10, "test": 10}


@pytest.mark.parametrize("corrupt, message", [
    (lambda raw: b"\x01\x02" + raw[2:], "bad magic number"),
    (lambda raw: raw[:-100], "truncated or corrupted"),
    (lambda raw: raw[:2] + b"\x0d" + raw[3:], "not unsigned byte"),
])
def test_corrupted_idx_files_name_the_file(tmp_path, corrupt, message):
    good = tmp_path / "good"
    idx.write_idx(good, np.zeros((10, 28, 28), np.uint8))
    bad = tmp_path / "t10k-images-idx3-ubyte"
    bad.write_bytes(corrupt(good.read_bytes()))
    with pytest.raises(ValueError, match=f"{bad}.*{message}"):
        idx.read_idx(bad)


def test_image_and_label_count_mismatch(tmp_path):
    idx.write_idx(tmp_path / "images", np.zeros((10, 4, 4), np.uint8))
    idx.write_idx(tmp_path / "labels", np.zeros(9, np.uint8))
    with pytest.raises(ValueError, match="10 images but .* 9 labels"):
        idx.read_images_and_labels(tmp_path / "images", tmp_path / "labels")
    idx.write_idx(tmp_path / "flat", np.zeros((10, 16), np.uint8))  # 2-D: not images
    with pytest.raises(ValueError, match="expected images of shape"):
        idx.read_images_and_labels(tmp_path / "flat", tmp_path / "labels")


def test_idx_image_shape_comes_from_the_file(tmp_path):
    from mlp_scratch.datasets import idx

    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for stem, n in (("train", 100), ("t10k", 20)):
        idx.write_idx(folder / f"{stem}-images-idx3-ubyte", rng.integers(0, 256, (n, 16, 16)))
        idx.write_idx(folder / f"{stem}-labels-idx1-ubyte", np.arange(n) % 10)
    data = datasets.load("mnist", data_dir=tmp_path, n_val=10)
    assert data.meta["image_shape"] == [1, 16, 16] and data.n_features == 256


@pytest.fixture
def cifar_folder(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [fake_images(100, (3072,), s) for s in range(3)]
    cifar.write_batch(folder / "data_batch_1", *batches[0])
    cifar.write_batch(folder / "data_batch_3", *batches[1])  # any subset of the batch files
    cifar.write_batch(folder / "test_batch", *batches[2])
    return tmp_path, batches


def test_cifar_reader_takes_whatever_batches_exist(cifar_folder):
    root, batches = cifar_folder
    data = datasets.load("cifar10", data_dir=root, preprocessing="scale", n_val=50, seed=0)
    assert data.meta["image_shape"] == [3, 32, 32] and data.meta["class_names"][0] == "airplane"
    assert len(data.y_train) + len(data.y_val) == 200 and len(data.y_test) == 100
    np.testing.assert_allclose(data.X_test, batches[2][0] / np.float32(255))
    assert 0 <= data.X_train.min() and data.X_train.max() <= 1


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_code(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Exploit(), b"labels": [0]}))
    with pytest.raises(ValueError, match="refusing to load (posix|os).system"):
        cifar.read_batch(path)


def test_corrupted_cifar_batches(tmp_path):
    path = tmp_path / "data_batch_1"
    cifar.write_batch(path, np.zeros((5, 3072), np.uint8), [0, 1, 2, 3, 4])
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match="not a readable CIFAR-10 batch"):
        cifar.read_batch(path)
    cifar.write_batch(path, np.zeros((5, 3000), np.uint8), [0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"shape \(N, 3072\)"):
        cifar.read_batch(path)
    cifar.write_batch(path, np.zeros((5, 3072), np.uint8), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="5 images but labels"):
        cifar.read_batch(path)


def test_missing_files_error_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        datasets.load("cifar10", data_dir=tmp_path)
    text = str(error.value)
    assert str(tmp_path / "cifar-10-batches-py") in text and "test_batch" in text and "fetch_openml" in text


def test_openml_fallback_splits_the_official_order(monkeypatch):
    """Without a folder the loader asks fetch_openml; its rows are the training set, then the test set."""
    calls = []

    def fake_fetch(data_id, as_frame, parser):
        calls.append(data_id)
        X = np.repeat(np.arange(70000, dtype=np.float64)[:, None] % 256, 784, axis=1)
        return type("Bunch", (), {"data": X, "target": (np.arange(70000) % 10).astype(str)})

    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    monkeypatch.setattr("sklearn.datasets.fetch_openml", fake_fetch)
    X_train, y_train, X_test, y_test, meta = sources.load_image_set("mnist")
    assert calls == [554] and len(X_train) == 60000 and len(X_test) == 10000
    assert X_test[0, 0] == 60000 % 256 and meta["source"] == "OpenML data set 554"


def test_subsets_are_stratified_disjoint_and_seeded():
    kwargs = dict(n_train=200, n_val=50, n_test=100, seed=3)
    a, b, c = datasets.load("digits", **kwargs), datasets.load("digits", **kwargs), datasets.load("digits", n_train=200, n_val=50, n_test=100, seed=4)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    rows = lambda X: {bytes(r) for r in X}  # noqa: E731
    assert not rows(a.X_train) & rows(a.X_val) and not rows(a.X_train) & rows(a.X_test) and not rows(a.X_val) & rows(a.X_test)
    share = np.bincount(load_digits().target) / 1797
    for y, n in ((a.y_train, 200), (a.y_val, 50), (a.y_test, 100)):  # each class in proportion to its share
        assert len(y) == n and np.all(np.abs(np.bincount(y, minlength=10) - n * share) < 1)
    per_class = datasets.load("digits", n_train=7, n_val=2, n_test=3, per_class=True)
    assert np.all(np.bincount(per_class.y_train) == 7) and np.all(np.bincount(per_class.y_test) == 3)
    with pytest.raises(ValueError, match="too few"):
        datasets.load("iris", n_train=45, n_val=10, per_class=True)


def test_split_errors_name_the_size_and_empty_training_splits_are_refused():
    with pytest.raises(ValueError, match="n_test=500"):
        datasets.load("iris", n_test=500)
    with pytest.raises(ValueError, match="training split"):
        datasets.load("iris", val_fraction=0.8, test_fraction=0.2)
    assert datasets.load("iris", val_fraction=np.float32(0.2)).meta["sizes"]["val"] == 30


def test_preprocessing_kinds_are_fitted_on_train_only():
    raw = datasets.load("wine", preprocessing="none", seed=0, dtype="float64")
    for kind, check in (("scale", lambda X: (X.min(0), X.max(0))), ("mean_image", lambda X: (X.mean(0), None)),
                        ("standardize", lambda X: (X.mean(0), X.std(0)))):
        data = datasets.load("wine", preprocessing=kind, seed=0, dtype="float64")
        low, high = check(data.X_train)
        np.testing.assert_allclose(low, 0, atol=1e-12)
        if high is not None:
            np.testing.assert_allclose(high, 1, atol=1e-12)
        state = data.meta["preprocessing"]
        np.testing.assert_allclose(data.X_test, (raw.X_test - state["shift"]) / state["scale"], rtol=1e-12)


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="real MNIST files not present")
def test_real_mnist_known_facts():
    data = datasets.load("mnist", data_dir=SHARED, preprocessing="none", n_val=1, seed=0)
    images, labels = idx.read_images_and_labels(SHARED / "mnist" / "train-images-idx3-ubyte.gz",
                                                SHARED / "mnist" / "train-labels-idx1-ubyte.gz")
    assert images.shape == (60000, 28, 28) and labels[0] == 5
    assert len(data.y_train) + len(data.y_val) == 60000 and len(data.y_test) == 10000
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.skipif(not (SHARED / "cifar10").is_dir(), reason="CIFAR-10 files not present")
def test_real_cifar_subset_known_facts():
    data = datasets.load("cifar10", data_dir=SHARED, preprocessing="none", n_val=1000, seed=0)
    assert len(data.y_train) + len(data.y_val) == 20000 and len(data.y_test) == 10000
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert np.bincount(np.concatenate([data.y_train, data.y_val])).tolist() == [2000] * 10


def augment_reference(X, shape, shift, flip, noise_std, seed):
    c, h, w = shape
    out = np.zeros_like(X)
    noise_seed = ref.derive_seed(seed, 1)
    for i in range(len(X)):
        span = 2 * shift + 1
        dy = min(int(ref.uniform(seed, 3 * i) * span), span - 1) - shift
        dx = min(int(ref.uniform(seed, 3 * i + 1) * span), span - 1) - shift
        image = X[i].reshape(c, h, w)
        if flip and ref.uniform(seed, 3 * i + 2) < 0.5:
            image = image[:, :, ::-1]
        shifted = np.zeros_like(image)
        shifted[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            image[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
        out[i] = shifted.reshape(-1)
        if noise_std:
            k = i * X.shape[1] + np.arange(X.shape[1])
            u1, u2 = ref.uniform(noise_seed, 2 * k), ref.uniform(noise_seed, 2 * k + 1)
            out[i] += noise_std * np.sqrt(-2 * np.log(1 - u1)) * np.cos(2 * np.pi * u2)
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_augmentation_matches_reference(dtype):
    X = np.random.default_rng(0).standard_normal((40, 3 * 6 * 5)).astype(dtype)
    aug = Augmentation((3, 6, 5), crop_padding=1, translate=1, flip=True, noise_std=0.1)
    out = np.empty_like(X)
    aug(X, out, np.uint64(77))
    want = augment_reference(X.astype(np.float64), (3, 6, 5), 2, True, 0.1, np.uint64(77))
    np.testing.assert_allclose(out, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    again = np.empty_like(X)
    aug(X, again, np.uint64(77))
    np.testing.assert_array_equal(out, again)


def warp_jitter_reference(X, shape, max_shift, flip, warp, jitter, seed):
    """Shift, flip, lens distortion and affine warp through scipy's bilinear map_coordinates, then
    jitter, in NumPy, from the same uniforms as the kernel (kernels/training/augment.py's docstring)."""
    from scipy.ndimage import map_coordinates
    uniform = random_kernels.uniform
    channels, height, width = shape
    n, span = len(X), 2 * max_shift + 1
    center = np.array([(height - 1) / 2, (width - 1) / 2])[:, None, None]
    grid = np.stack(np.meshgrid(np.arange(height), np.arange(width), indexing="ij")) - center
    out = np.empty_like(X)
    for i in range(n):
        shift = [min(int(uniform(seed, 3 * i + k) * span), span - 1) - max_shift for k in (0, 1)]
        image = X[i].reshape(shape)[:, :, ::-1] if flip and uniform(seed, 3 * i + 2) < 0.5 else X[i].reshape(shape)
        draw = [2 * uniform(seed, 3 * n + 6 * i + k) - 1 for k in range(6)]
        theta, phi, s = draw[0] * warp[0], draw[1] * warp[2], 1 + draw[2] * warp[1]
        k = (2 * uniform(seed, 9 * n + i) - 1) * warp[3]
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        M = rotation @ np.array([[1, 0], [np.tan(phi), 1]]) / s
        bent = grid * (1 + k * (grid ** 2).sum(axis=0) / max(center.max(), 0.5) ** 2)
        source = np.tensordot(M, bent, 1) + center - np.array(shift, float)[:, None, None]
        y = np.stack([map_coordinates(image[c], source, order=1, mode="grid-constant") for c in range(channels)])
        y *= 1 + draw[3] * jitter[0]
        y = y.mean() + (1 + draw[4] * jitter[1]) * (y - y.mean())
        if channels == 3:
            gray = 0.299 * y[0] + 0.587 * y[1] + 0.114 * y[2]
            y = gray + (1 + draw[5] * jitter[2]) * (y - gray)
        out[i] = y.ravel()
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_affine_warp_and_jitter_match_scipy(dtype):
    X = np.random.default_rng(2).standard_normal((30, 3 * 7 * 6)).astype(dtype)
    aug = Augmentation((3, 7, 6), translate=1, flip=True, rotate=20, scale=0.2, shear=10, brightness=0.3,
                       contrast=0.3, saturation=0.5, distort=0.15)
    out = np.empty_like(X)
    aug(X, out, np.uint64(11))
    settings = kernel_settings(aug, dtype)
    warp, jitter = settings.warp, settings.jitter
    want = warp_jitter_reference(X.astype(np.float64), (3, 7, 6), 1, True, warp, jitter, np.uint64(11))
    np.testing.assert_allclose(out, want, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5)
    plain = np.empty_like(X)
    Augmentation((3, 7, 6), translate=1, flip=True)(X, plain, np.uint64(11))
    assert np.abs(out - plain).mean() > 0.1  # the warp and jitter did something


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lens_distortion_alone_matches_scipy_and_bends_the_right_way(dtype):
    X = np.random.default_rng(3).standard_normal((40, 9 * 8)).astype(dtype)
    aug = Augmentation((1, 9, 8), distort=1 / 6)
    out = np.empty_like(X)
    aug(X, out, np.uint64(5))
    want = warp_jitter_reference(X.astype(np.float64), (1, 9, 8), 0, False, kernel_settings(aug, dtype).warp,
                                 np.zeros(3), np.uint64(5))
    np.testing.assert_allclose(out, want, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5)
    # a bright square filling the middle of the image: barrel (k > 0) shrinks it, pincushion grows it
    square = np.zeros((1, 21, 21))
    square[0, 4:17, 4:17] = 1.0
    k = np.array([2 * random_kernels.uniform(np.uint64(s), 9) - 1 for s in range(200)])
    barrel, pincushion = int(np.argmax(k)), int(np.argmin(k))
    for seed, shrinks in ((barrel, True), (pincushion, False)):
        bent = np.empty((1, 441))
        Augmentation((1, 21, 21), distort=0.15)(square.reshape(1, -1), bent, np.uint64(seed))
        assert (bent.sum() < square.sum()) == shrinks
        assert bent[0, 10 * 21 + 10] == 1.0  # the center stays where it is


def test_warp_options_are_checked():
    with pytest.raises(ValueError, match="saturation needs 3 color channels"):
        Augmentation((1, 8, 8), saturation=0.2)
    with pytest.raises(ValueError, match="scale"):
        Augmentation((1, 8, 8), scale=1.0)
    with pytest.raises(ValueError, match="rotate"):
        Augmentation((1, 8, 8), rotate=-5)
    with pytest.raises(ValueError, match="distort"):
        Augmentation((1, 8, 8), distort=0.2)  # would fold the corners over


def test_flips_are_exact_mirror_images():
    X = np.random.default_rng(1).standard_normal((200, 3 * 4 * 4))
    out = np.empty_like(X)
    Augmentation((3, 4, 4), flip=True)(X, out, np.uint64(5))
    images, mirrored = X.reshape(-1, 3, 4, 4), out.reshape(-1, 3, 4, 4)
    flipped = np.array([np.array_equal(m, i[:, :, ::-1]) for i, m in zip(images, mirrored)])
    unchanged = np.array([np.array_equal(m, i) for i, m in zip(images, mirrored)])
    assert np.all(flipped | unchanged) and 70 < flipped.sum() < 130


@pytest.mark.parametrize("warp_and_jitter", [{}, dict(rotate=10, scale=0.1, shear=5, brightness=0.2, contrast=0.2)])
def test_training_with_augmentation_leaves_the_data_untouched(warp_and_jitter):
    data = datasets.load("digits", seed=0)
    copies = [a.copy() for a in (data.X_train, data.X_val, data.X_test)]
    aug = Augmentation.default_for(data.meta, noise_std=0.05, **warp_and_jitter)
    runs = []
    for _ in range(2):
        model = MLP(64, [32], 10, seed=0)
        Trainer(model, SGD(lr=0.05, momentum=0.9), epochs=2, augment=aug, log=None).fit(data)
        runs.append(model.flat_params.copy())
    np.testing.assert_array_equal(runs[0], runs[1])  # deterministic for a seed
    for before, after in zip(copies, (data.X_train, data.X_val, data.X_test)):
        np.testing.assert_array_equal(before, after)
    plain = MLP(64, [32], 10, seed=0)
    Trainer(plain, SGD(lr=0.05, momentum=0.9), epochs=2, log=None).fit(data)
    assert not np.array_equal(plain.flat_params, runs[0])
    with pytest.raises(ValueError, match="image data set"):
        Augmentation.default_for(datasets.load("iris").meta)


@pytest.mark.parametrize("subfolder", ["fashion-mnist", "FashionMNIST/raw"])
def test_fashion_mnist_from_its_usual_folders(tmp_path, subfolder):
    folder = tmp_path / subfolder
    folder.mkdir(parents=True)
    for stem, n in (("train", 60), ("t10k", 20)):
        images, labels = fake_images(n, (28, 28), 3)
        idx.write_idx(folder / f"{stem}-images-idx3-ubyte", images)
        idx.write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", labels)
    data = datasets.load("fashion_mnist", data_dir=tmp_path, n_val=10)
    assert data.meta["class_names"][9] == "Ankle boot" and data.meta["source"].endswith(subfolder.split("/")[-1])
    assert len(data.y_train) == 50 and len(data.y_test) == 20
