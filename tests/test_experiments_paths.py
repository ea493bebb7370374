"""Experiment 2, optimizer paths on 2-D surfaces, at a small size."""
import numpy as np
import pytest

from experiment_checks import assert_png, read_csv
from mlp_scratch.experiments import paths
from mlp_scratch.experiments.paths import PATH_METHODS, SURFACES


@pytest.mark.parametrize("name", list(SURFACES))
def test_gradient_and_hessian_match_central_differences(name):
    surface, h = SURFACES[name], 1e-5
    for p in np.random.default_rng(0).uniform(-1.5, 1.5, size=(5, 2)):
        steps = h * np.eye(2)
        numeric_gradient = [(surface.f(p + e) - surface.f(p - e)) / (2 * h) for e in steps]
        numeric_hessian = np.array([(surface.gradient(p + e) - surface.gradient(p - e)) / (2 * h) for e in steps])
        scale = 1 + np.abs(surface.gradient(p)).max()
        assert np.allclose(surface.gradient(p), numeric_gradient, rtol=1e-7, atol=1e-7 * scale)
        assert np.allclose(surface.hessian(p), numeric_hessian.T, rtol=1e-6, atol=1e-6 * scale)


def test_marked_points_are_critical_points():
    for surface in SURFACES.values():
        for point in surface.points.values():
            assert np.abs(surface.gradient(np.array(point))).max() < 1e-12


def test_sgd_path_is_the_plain_update():
    surface, lr = SURFACES["rosenbrock"], 1e-3
    path, _ = paths.first_order_path(surface, "sgd", lr, surface.start, 300)
    p = np.array(surface.start)
    expected = [p.copy()]
    for _ in range(300):
        p -= lr * surface.gradient(p)
        expected.append(p.copy())
    assert np.abs(path - np.array(expected)).max() < 1e-12


def test_momentum_beats_sgd_on_the_ill_conditioned_quadratic():
    surface = SURFACES["quadratic"]
    final = {m: surface.f(paths.first_order_path(surface, m, 0.1, surface.start, 40)[0][-1])
             for m in ("sgd", "momentum")}
    assert final["momentum"] < final["sgd"] / 5  # about 0.10 vs 1.10


def test_newton_lands_on_a_quadratic_critical_point_in_one_step():
    for name in ("quadratic", "saddle"):  # the saddle attracts Newton's method too
        surface = SURFACES[name]
        path, stop = paths.newton_path(surface, surface.start, 10)
        assert len(path) == 2 and np.abs(path[1]).max() < 1e-12 and stop.startswith("gradient norm")


def test_paths_write_tables_and_figures(tmp_path):
    methods = PATH_METHODS
    rows = paths.optimizer_paths(tmp_path, methods=methods, steps=30, lrs={"sgd": 0.05}, log=lambda line: None)
    columns, table = read_csv(tmp_path / "paths.csv")
    assert columns == paths.COLUMNS and len(table) == len(SURFACES) * len(methods) == len(rows)
    assert [(r["surface"], r["method"]) for r in table] == [(s, m) for s in SURFACES for m in methods]
    for row in table:
        assert 1 <= int(row["steps"]) <= 30
        expected_lr = "" if row["method"] == "lbfgs" else str(0.05 if row["method"] == "sgd" else
                                                              SURFACES[row["surface"]].lrs[row["method"]])
        assert row["lr"] == expected_lr
        surface = SURFACES[row["surface"]]
        end = np.array([float(row["final_x"]), float(row["final_y"])])
        assert float(row["final_loss"]) == pytest.approx(surface.f(end))
        if surface.minimum is not None:
            assert float(row["distance_to_minimum"]) == pytest.approx(np.linalg.norm(end - surface.minimum))
    newton = {r["surface"]: r for r in table if r["method"] == "newton"}
    assert newton["quadratic"]["steps"] == "1" and float(newton["rosenbrock"]["distance_to_minimum"]) < 1e-9
    saddle_sgd = next(r for r in table if r["surface"] == "saddle" and r["method"] == "sgd")
    assert abs(float(saddle_sgd["final_y"])) > 0.1  # escaped along the descending direction
    for name in SURFACES:
        assert_png(tmp_path / f"{name}.png")
        assert_png(tmp_path / f"{name}_loss.png")
    assert (tmp_path / "paths.json").exists()


def test_script_options(tmp_path, capsys):
    paths.main(["--surfaces", "quadratic", "--methods", "sgd", "newton", "--start", "4", "-1", "--steps", "5",
                "--lr", "sgd", "0.5", "--out", str(tmp_path)])
    _, rows = read_csv(tmp_path / "paths.csv")
    assert [(r["method"], r["lr"], r["steps"]) for r in rows] == [("sgd", "0.5", "5"), ("newton", "1.0", "1")]
    # sgd at lr 0.5 from (4, -1): x shrinks by 0.95 per step, y by (1 - 0.5 * 2) = 0 at once
    assert float(rows[0]["final_x"]) == pytest.approx(4 * 0.95 ** 5) and float(rows[0]["final_y"]) == 0
    assert "results in" in capsys.readouterr().out


def test_bad_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="surfaces must be"):
        paths.optimizer_paths(tmp_path, surfaces=["himmelblau"])
    with pytest.raises(ValueError, match="methods must be"):
        paths.optimizer_paths(tmp_path, methods=["adamax"])
    with pytest.raises(ValueError, match="lrs"):
        paths.optimizer_paths(tmp_path, lrs={"lbfgs": 0.1})


def test_sgd_takes_momentums_steps_unless_tuned(tmp_path):
    """The lecture's comparison by default (equal learning rates: momentum gains), the tuned one on
    request (SGD at its own larger rate wins on this surface)."""
    def final(tuned):
        rows = paths.optimizer_paths(tmp_path / str(tuned), surfaces=["quadratic"], methods=["sgd", "momentum"],
                                     tuned=tuned, log=lambda line: None)
        return {row["method"]: (row["lr"], row["final_loss"]) for row in rows}
    equal, tuned = final(False), final(True)
    lrs = SURFACES["quadratic"].lrs
    assert equal["sgd"][0] == equal["momentum"][0] == lrs["momentum"] and tuned["sgd"][0] == lrs["sgd"]
    assert equal["momentum"][1] < 0.2 * equal["sgd"][1] and tuned["sgd"][1] < 0.1 * tuned["momentum"][1]


def test_several_starts_show_basins_momentum_and_newtons_saddle(tmp_path):
    """On the double well: gradient descent ends in the basin it starts in (the saddle at x ~ 0.127
    divides them), momentum rolls from the far right over the ridge into the global minimum, and
    Newton's method ends on the saddle from starts near it."""
    rows = paths.several_starts(tmp_path, methods=["sgd", "momentum", "newton"], starts=9, log=lambda line: None)
    saddle = SURFACES["double_well"].points["saddle point"][0]
    for row in (r for r in rows if r["method"] == "sgd"):
        assert row["reached"] == ("global minimum" if row["start_x"] < saddle else "local minimum"), row
    assert any(r["method"] == "momentum" and r["start_x"] > saddle and r["reached"] == "global minimum" for r in rows)
    assert any(r["method"] == "newton" and r["reached"] == "saddle point" for r in rows)
    columns, table = read_csv(tmp_path / "starts.csv")
    assert columns == paths.STARTS_COLUMNS and len(table) == 27
    assert_png(tmp_path / "double_well_starts.png")
