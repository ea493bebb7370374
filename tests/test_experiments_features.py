"""Experiment 10, learned features, at a tiny size."""
import json

import numpy as np
import pytest
from sklearn import metrics

from experiment_checks import assert_png, read_csv
from mlp_scratch import datasets
from mlp_scratch.experiments import features
from mlp_scratch.experiments.common import train

SETTINGS = dict(hidden_sizes=(16,), method="adam", epochs=3, batch_size=25, l2=1e-2, seed=0)


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=300, n_val=100, n_test=200)


def scaled(image):
    return (image - image.min()) / (image.max() - image.min())


def test_confusion_matrix_matches_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    y_pred[:3] = 4  # class 4 predicted, never true in the first rows: not square by accident
    np.testing.assert_array_equal(features.confusion_matrix(y_true, y_pred, 5),
                                  metrics.confusion_matrix(y_true, y_pred, labels=range(5)))
    rows = features.per_class_rows(features.confusion_matrix([0, 0, 1], [0, 1, 1], 3), ["a", "b", "c"])
    assert [(r["count"], r["correct"]) for r in rows] == [(2, 1), (1, 1), (0, 0)]
    assert rows[0]["accuracy"] == 0.5 and np.isnan(rows[2]["accuracy"])


def test_weight_grid_tiles_are_the_reshaped_columns(digits):
    model, _, _ = train(digits, **SETTINGS)
    W1 = model.params["W1"]  # (64, 16): digits are 8x8 images
    grid = features.image_grid(features.first_layer_images(W1, digits.meta["image_shape"]), pad=2, fill=1.0)
    assert grid.shape == (4 * 10 - 2, 4 * 10 - 2)  # 16 tiles in 4 columns, 2 pixels between them
    for k in range(16):
        r, c = divmod(k, 4)
        tile = grid[r * 10:r * 10 + 8, c * 10:c * 10 + 8]
        np.testing.assert_allclose(tile, scaled(W1[:, k].astype(np.float64).reshape(8, 8)), atol=1e-12)
        assert tile.min() == 0 and tile.max() == 1
    assert np.all(grid[8:10, :] == 1.0) and np.all(grid[:, 8:10] == 1.0)


def test_color_images_move_channels_last():
    W = np.random.default_rng(1).normal(size=(3 * 4 * 5, 3))
    W[:, 2] = 7.0  # a constant unit is mid-gray, not a division by zero
    images = features.first_layer_images(W, (3, 4, 5))
    assert images.shape == (3, 4, 5, 3)
    for k in range(2):
        np.testing.assert_allclose(images[k], scaled(W[:, k].reshape(3, 4, 5)).transpose(1, 2, 0))
    assert np.all(images[2] == 0.5)
    grid = features.image_grid(images, columns=3)
    assert grid.shape == (4, 3 * 5 + 2, 3)
    np.testing.assert_array_equal(grid[:, 6:11], images[1])


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="W must have 64 rows"):
        features.first_layer_images(np.zeros((63, 2)), (1, 8, 8))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        features.first_layer_images(np.zeros((128, 2)), (2, 8, 8))


def test_data_without_images_is_refused(tmp_path):
    iris = datasets.load("iris")
    with pytest.raises(ValueError, match="'iris' has none"):
        features.learned_features(iris, tmp_path)
    assert not (tmp_path / "per_class.csv").exists()


def test_experiment_writes_tables_and_figures(digits, tmp_path):
    lines = []
    rows = features.learned_features(digits, tmp_path, log=lines.append, **SETTINGS)
    names = digits.meta["class_names"]
    columns, matrix_rows = read_csv(tmp_path / "confusion_matrix.csv")
    assert columns == ["true", *names, "count", "accuracy"]
    matrix = np.array([[int(r[name]) for name in names] for r in matrix_rows])
    # rows sum to the test set's class counts; the diagonal's share is the model's accuracy
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(digits.y_test, minlength=10))
    np.testing.assert_array_equal([int(r["count"]) for r in matrix_rows], matrix.sum(axis=1))
    model, _, _ = train(digits, **SETTINGS)  # the same run again: training is reproducible
    assert np.trace(matrix) / matrix.sum() == model.score(digits.X_test, digits.y_test)
    np.testing.assert_array_equal(matrix, metrics.confusion_matrix(digits.y_test, model.predict(digits.X_test)))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["test_acc"] == model.score(digits.X_test, digits.y_test)
    _, per_class = read_csv(tmp_path / "per_class.csv")
    assert [r["class"] for r in per_class] == names and [r["class"] for r in rows] == names
    for k, row in enumerate(rows):
        assert row["accuracy"] == pytest.approx(matrix[k, k] / matrix[k].sum())
    assert_png(tmp_path / "weights.png")
    assert_png(tmp_path / "confusion_matrix.png")
    assert "accuracy" in lines[-1]


def test_script_shows_class_templates_without_hidden_layers(tmp_path, capsys):
    features.main(["--dataset", "digits", "--n-train", "200", "--n-val", "100", "--hidden-sizes", "--epochs", "2",
                   "--out", str(tmp_path)])
    assert json.loads((tmp_path / "summary.json").read_text())["hidden_sizes"] == []
    assert_png(tmp_path / "weights.png")
    assert "results in" in capsys.readouterr().out
