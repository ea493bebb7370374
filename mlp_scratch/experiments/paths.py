"""Experiment 2: optimizer paths on the lecture's 2-D surfaces.

Each first-order method steps with the package's own optimizer (``make_method`` then
``optimizer.step(p, g, lr)`` on a float64 array of two elements), so the paths show exactly the
package's update rules. Newton's method is ``p <- p - lr * H^-1 g`` (lr 1: the plain method); L-BFGS
is scipy's L-BFGS-B, one point per iteration. A path ends after its steps, or when it leaves the
plotted region by more than twice its size (the saddle has no bottom).

Each surface's learning rates were picked by eye so that every method moves visibly in its steps:
AdaDelta's are large because its first steps are about lr * sqrt(eps / (1 - rho)) = lr * 3e-3; AdamW keeps
its default weight decay, a slight pull towards (0, 0). Plain SGD steps at momentum's learning rate
unless ``tuned``: the lecture's comparison, where momentum gains on the same steps (on the taco shell
at lr 0.1, SGD ends at loss 1.1 and momentum at 0.10; tuned to lr 0.9, SGD alone ends at 1.3e-3)."""
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from mlp_scratch.experiments.common import FIRST_ORDER, Output, command, format_table, make_method, parser, plt
from mlp_scratch.validation import check_positive_int

PATH_METHODS = [*FIRST_ORDER, "lbfgs", "newton"]
COLUMNS = ["surface", "method", "lr", "steps", "final_x", "final_y", "final_loss", "distance_to_minimum", "stop"]
NEWTON_TOLERANCE = 1e-12  # Newton stops at a critical point; the other methods run all their steps
LOSS_FLOOR = 1e-16  # f - f_min below this is drawn at this height on the log axis


@dataclass(frozen=True)
class Surface:
    """A function of (x, y): ``value`` works elementwise on arrays (for the contours), ``gradient``
    and ``hessian`` at one point p = (x, y). ``points`` are the critical points worth marking;
    ``minimum`` is the global one (None if unbounded below). ``lrs`` are each method's default."""
    name: str
    formula: str
    value: object
    gradient: object
    hessian: object
    start: tuple
    box: tuple  # (x_min, x_max, y_min, y_max) of the figure
    steps: int
    lrs: dict
    points: dict = field(default_factory=dict)
    minimum: tuple = None

    def f(self, p):
        return float(self.value(p[0], p[1]))

    def f_min(self):
        return None if self.minimum is None else self.f(self.minimum)

    def inside(self, p, margin=2.0):
        """Whether p is within the box widened by ``margin`` times its size on every side."""
        x0, x1, y0, y1 = self.box
        dx, dy = margin * (x1 - x0), margin * (y1 - y0)
        return bool(x0 - dx <= p[0] <= x1 + dx and y0 - dy <= p[1] <= y1 + dy)


def _quadratic():
    # curvatures 0.1 and 2 (condition number 20): the lecture's "taco shell"
    return Surface("quadratic", "f = x²/20 + y²", lambda x, y: x ** 2 / 20 + y ** 2,
                   lambda p: np.array([p[0] / 10, 2 * p[1]]), lambda p: np.diag([0.1, 2.0]),
                   start=(-7.0, 2.0), box=(-8.0, 8.0, -3.0, 3.0), steps=40,
                   lrs={"sgd": 0.9, "momentum": 0.1, "nesterov": 0.1, "adagrad": 1.5, "rmsprop": 0.2,
                        "adadelta": 100.0, "adam": 0.4, "adamw": 0.4, "newton": 1.0},
                   points={"minimum": (0.0, 0.0)}, minimum=(0.0, 0.0))


def _saddle():
    # starts near the x axis, the saddle's attracting direction: y grows by a factor per step
    return Surface("saddle", "f = x² − y²", lambda x, y: x ** 2 - y ** 2,
                   lambda p: np.array([2 * p[0], -2 * p[1]]), lambda p: np.diag([2.0, -2.0]),
                   start=(-2.0, 0.01), box=(-2.5, 2.5, -2.5, 2.5), steps=40,
                   lrs={"sgd": 0.1, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.5, "rmsprop": 0.03,
                        "adadelta": 30.0, "adam": 0.1, "adamw": 0.1, "newton": 1.0},
                   points={"saddle point": (0.0, 0.0)})


def _rosenbrock():
    return Surface("rosenbrock", "f = (1 − x)² + 100 (y − x²)²",
                   lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2,
                   lambda p: np.array([-2 * (1 - p[0]) - 400 * p[0] * (p[1] - p[0] ** 2),
                                       200 * (p[1] - p[0] ** 2)]),
                   lambda p: np.array([[2 - 400 * (p[1] - p[0] ** 2) + 800 * p[0] ** 2, -400 * p[0]],
                                       [-400 * p[0], 200.0]]),
                   start=(-1.2, 1.0), box=(-2.0, 2.0, -1.0, 3.0), steps=2000,
                   lrs={"sgd": 1e-3, "momentum": 2e-4, "nesterov": 2e-4, "adagrad": 0.3, "rmsprop": 3e-3,
                        "adadelta": 0.5, "adam": 0.02, "adamw": 0.02, "newton": 1.0},
                   points={"minimum": (1.0, 1.0)}, minimum=(1.0, 1.0))


TILT = 0.5


def _double_well():
    # f'(x) = 4x(x² − 1) + TILT: the root near −1 is the global minimum, the one near +1 a local one
    roots = np.sort(np.roots([4.0, 0.0, -4.0, TILT]).real)
    return Surface("double_well", f"f = (x² − 1)² + {TILT}·x + y²/2",
                   lambda x, y: (x ** 2 - 1) ** 2 + TILT * x + y ** 2 / 2,
                   lambda p: np.array([4 * p[0] * (p[0] ** 2 - 1) + TILT, p[1]]),
                   lambda p: np.array([[12 * p[0] ** 2 - 4, 0.0], [0.0, 1.0]]),
                   start=(2.0, 1.5), box=(-2.0, 2.3, -2.0, 2.0), steps=100,
                   lrs={"sgd": 0.02, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.5, "rmsprop": 0.03,
                        "adadelta": 10.0, "adam": 0.1, "adamw": 0.1, "newton": 1.0},
                   points={"global minimum": (roots[0], 0.0), "local minimum": (roots[2], 0.0),
                           "saddle point": (roots[1], 0.0)},
                   minimum=(roots[0], 0.0))


SURFACES = {s.name: s for s in (_quadratic(), _saddle(), _rosenbrock(), _double_well())}


def check_names(kind, names, known):
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(f"{kind} must be a non-empty list of {list(known)}, got {list(names)!r}")
    return list(names)


def first_order_path(surface, method, lr, start, steps):
    """The package's optimizer ``method`` at ``lr`` from ``start``: (points, stop reason)."""
    optimizer = make_method(method, lr)
    p = np.array(start, np.float64)
    path = [p.copy()]
    for _ in range(steps):
        optimizer.step(p, surface.gradient(p), lr)
        path.append(p.copy())
        if not np.all(np.isfinite(p)):
            return np.array(path), "non-finite"
        if not surface.inside(p):
            return np.array(path), "left the plotted region"
    return np.array(path), "steps done"


def newton_path(surface, start, steps, lr=1.0):
    """p <- p - lr * H(p)^-1 grad(p): on a quadratic, lr 1 lands on the critical point in one step,
    whatever its kind (a saddle attracts Newton's method as much as a minimum)."""
    p = np.array(start, np.float64)
    path = [p.copy()]
    for _ in range(steps):
        gradient = surface.gradient(p)
        if np.linalg.norm(gradient) <= NEWTON_TOLERANCE:
            return np.array(path), f"gradient norm <= {NEWTON_TOLERANCE:g}"
        try:
            p = p - lr * np.linalg.solve(surface.hessian(p), gradient)
        except np.linalg.LinAlgError:
            return np.array(path), "singular Hessian"
        path.append(p.copy())
        if not surface.inside(p):
            return np.array(path), "left the plotted region"
    return np.array(path), "steps done"


class _LeftRegion(Exception):
    pass


def lbfgs_path(surface, start, steps):
    """scipy's L-BFGS-B, one point per iteration (each may evaluate f several times)."""
    path = [np.array(start, np.float64)]

    def record(xk):
        path.append(np.array(xk, np.float64))
        if not surface.inside(xk):
            raise _LeftRegion

    try:
        with np.errstate(over="ignore", invalid="ignore"):
            result = minimize(surface.f, path[0], jac=surface.gradient, method="L-BFGS-B", callback=record,
                              options={"maxiter": steps})
        stop = "steps done" if result.nit >= steps else f"scipy: {result.message.lower()}"
    except _LeftRegion:
        stop = "left the plotted region"
    return np.array(path), stop


def run_path(surface, method, lr, start, steps):
    if method == "lbfgs":
        return lbfgs_path(surface, start, steps)
    if method == "newton":
        return newton_path(surface, start, steps, lr)
    return first_order_path(surface, method, lr, start, steps)


def path_lr(surface, method, lrs, tuned):
    """A method's learning rate on ``surface``: given in ``lrs``, else its own tuned one, or for
    plain SGD (unless ``tuned``) momentum's, so that SGD and momentum take steps of one size. None
    for L-BFGS, whose line search picks its steps."""
    if method == "lbfgs":
        return None
    return float(lrs.get(method, surface.lrs["momentum" if method == "sgd" and not tuned else method]))


def optimizer_paths(out, *, surfaces=tuple(SURFACES), methods=tuple(PATH_METHODS), lrs=None, start=None,
                    steps=None, tuned=False, log=print):
    """Every method's path on every surface; writes paths.csv (one row per path), paths.json (the
    points) and, per surface, <surface>.png (contours and paths) and <surface>_loss.png. ``lrs``
    (method -> lr), ``start`` (x, y) and ``steps`` override each surface's defaults; ``tuned`` gives
    plain SGD its own tuned rate instead of momentum's (``path_lr``). Returns the rows."""
    surfaces = [SURFACES[name] for name in check_names("surfaces", surfaces, SURFACES)]
    methods = check_names("methods", methods, PATH_METHODS)
    lrs = dict(lrs or {})
    unknown = [method for method in lrs if method not in PATH_METHODS]
    if unknown:
        raise ValueError(f"lrs must name methods among {PATH_METHODS}, got {unknown}")
    if "lbfgs" in lrs:
        raise ValueError("lrs cannot set a learning rate for lbfgs (its line search picks the step)")
    if steps is not None:
        check_positive_int("steps", steps)
    if start is not None and len(start) != 2:
        raise ValueError(f"start must be two numbers (x, y), got {start!r}")
    output = Output(out)
    rows, points = [], {}
    for surface in surfaces:
        begin = tuple(float(v) for v in (start or surface.start))
        paths = {}
        for method in methods:
            lr = path_lr(surface, method, lrs, tuned)
            path, stop = run_path(surface, method, lr, begin, steps or surface.steps)
            paths[method] = (lr, path)
            rows.append(_row(surface, method, lr, path, stop))
        points[surface.name] = {m: {"lr": lr, "points": path} for m, (lr, path) in paths.items()}
        _plot_paths(output, surface, paths, begin)
        _plot_losses(output, surface, paths)
    output.table("paths", rows, COLUMNS)
    output.json("paths", points)
    log(format_table(rows, COLUMNS, title="final points"))
    return rows


STARTS_COLUMNS = ["surface", "method", "lr", "start_x", "start_y", "final_x", "final_y", "final_loss", "reached"]
REACHED = 0.05  # an end point this close to a marked critical point has reached it


def reached(surface, end):
    """The marked critical point (global or local minimum, saddle) that ``end`` lies on, or "none"."""
    near = [(float(np.hypot(*(np.asarray(end) - np.asarray(point)))), name) for name, point in surface.points.items()]
    distance, name = min(near, default=(np.inf, "none"))
    return name if distance < REACHED else "none"


def several_starts(out, *, surface="double_well", methods=("sgd", "momentum", "adam"), starts=9, lrs=None,
                   steps=None, tuned=False, log=print):
    """Each method from ``starts`` points across ``surface``'s box (evenly spaced in x, at the
    default start's y), for ``steps`` (default: 4 times the surface's, so that plain SGD settles),
    to the critical point each reaches: gradient descent ends in the basin it starts in, momentum can
    roll over a low ridge, Newton's method is drawn to the saddle as much as to the minima. Writes
    starts.csv/.json and <surface>_starts.png (one panel per method, each start coloured by where it
    ends). Returns the rows."""
    surface = SURFACES[check_names("surface", [surface], SURFACES)[0]]
    methods = check_names("methods", methods, PATH_METHODS)
    check_positive_int("starts", starts)
    lrs = dict(lrs or {})
    x0, x1, _, _ = surface.box
    begins = [(float(x), float(surface.start[1])) for x in np.linspace(x0, x1, starts + 2)[1:-1]]
    rows = []
    for method in methods:
        lr = path_lr(surface, method, lrs, tuned)
        for begin in begins:
            path, _ = run_path(surface, method, lr, begin, steps or 4 * surface.steps)
            rows.append({"surface": surface.name, "method": method, "lr": lr, "start_x": begin[0], "start_y": begin[1],
                         "final_x": float(path[-1][0]), "final_y": float(path[-1][1]),
                         "final_loss": surface.f(path[-1]), "reached": reached(surface, path[-1])})
    output = Output(out)
    _plot_starts(output, surface, methods, rows)
    output.table("starts", rows, STARTS_COLUMNS)
    log(format_table(rows, STARTS_COLUMNS, title=f"{len(begins)} starts on {surface.name}"))
    return rows


def _plot_starts(output, surface, methods, rows):
    x0, x1, y0, y1 = surface.box
    X, Y = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    columns = min(3, len(methods))
    grid = -(-len(methods) // columns)
    fig, axes = plt.subplots(grid, columns, figsize=(4.6 * columns, 4.2 * grid + 0.8), squeeze=False)
    colors = {"global minimum": "tab:red", "local minimum": "tab:orange", "saddle point": "black", "none": "0.6"}
    for ax in axes.flat[len(methods):]:
        ax.set_visible(False)
    for ax, method in zip(axes.flat, methods):
        ax.contour(X, Y, surface.value(X, Y), levels=25, colors="0.75", linewidths=0.6)
        for row in (r for r in rows if r["method"] == method):
            color = colors.get(row["reached"], "0.6")
            ax.annotate("", xy=(row["final_x"], row["final_y"]), xytext=(row["start_x"], row["start_y"]),
                        arrowprops=dict(arrowstyle="->", color=color, lw=1.2))
            ax.plot(row["start_x"], row["start_y"], "o", color=color, ms=6)
        for name, point in surface.points.items():
            marker, color = POINT_STYLES[name]
            ax.plot(*point, marker, color=color, ms=13, mec="black")
        ax.set(xlim=(x0, x1), ylim=(y0, y1), title=method, xlabel="x", aspect="equal")
    for row in axes:
        row[0].set_ylabel("y")
    handles = [plt.Line2D([], [], marker="o", ls="", color=color, label=f"reaches the {name}" if name != "none"
                          else "reaches neither") for name, color in colors.items()
               if name in {r["reached"] for r in rows}]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles))
    fig.suptitle(f"Where each start ends on {surface.name.replace('_', ' ')}: {surface.formula}")
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    output.figure(fig, f"{surface.name}_starts")


def _row(surface, method, lr, path, stop):
    end = path[-1]
    distance = np.nan if surface.minimum is None else float(np.hypot(*(end - np.asarray(surface.minimum))))
    return {"surface": surface.name, "method": method, "lr": lr, "steps": len(path) - 1, "final_x": float(end[0]),
            "final_y": float(end[1]), "final_loss": surface.f(end), "distance_to_minimum": distance, "stop": stop}


MARKERS = 40  # at most about this many markers on a path: longer ones get one every few steps
COLORS = dict(zip(PATH_METHODS, plt.cm.tab10(np.arange(10))))
POINT_STYLES = {"minimum": ("*", "red"), "global minimum": ("*", "red"), "local minimum": ("*", "orange"),
                "saddle point": ("X", "black")}


def _label(method, lr, path):
    setting = "" if lr is None else f", lr {lr:g}"
    steps = len(path) - 1
    return f"{method}{setting} ({steps} step{'' if steps == 1 else 's'})"


def _plot_paths(output, surface, paths, start):
    x0, x1, y0, y1 = surface.box
    X, Y = np.meshgrid(np.linspace(x0, x1, 400), np.linspace(y0, y1, 400))
    Z = surface.value(X, Y)
    height = 7.0 * (y1 - y0) / (x1 - x0)  # equal axis scales, so that the shapes are the true ones
    fig, ax = plt.subplots(figsize=(11.5, min(8.0, max(4.5, height + 1.5))))
    f_min = surface.f_min()
    if f_min is None:
        levels = np.linspace(Z.min(), Z.max(), 25)
    else:  # log-spaced above the minimum: shows the valley floor as well as the walls
        top = (Z - f_min).max()
        levels = f_min + np.logspace(np.log10(max(top * 1e-6, 1e-4)), np.log10(top), 30)
    ax.contour(X, Y, Z, levels=levels, colors="0.6", linewidths=0.7, linestyles="solid")
    for method, (lr, path) in paths.items():
        ax.plot(path[:, 0], path[:, 1], "-o", color=COLORS[method], ms=3, lw=1.4,
                markevery=max(1, (len(path) - 1) // MARKERS), label=_label(method, lr, path))
        ax.plot(*path[-1], "s", color=COLORS[method], ms=8, mec="black")  # where the path ends
    ax.plot(*start, "o", color="black", ms=10, mfc="none", mew=2, label=f"start ({start[0]:g}, {start[1]:g})")
    for name, point in surface.points.items():
        marker, color = POINT_STYLES[name]
        ax.plot(*point, marker, color=color, ms=15, mec="black", label=f"{name} ({point[0]:.3g}, {point[1]:.3g})")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y", aspect="equal",
           title=f"Optimizer paths on {surface.name.replace('_', ' ')}: {surface.formula}\n"
                 f"contours {'log-spaced above the minimum' if f_min is not None else 'evenly spaced'}; "
                 f"a dot per step (about {MARKERS} on longer paths), a square where each path ends")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=9)
    output.figure(fig, surface.name)


def _plot_losses(output, surface, paths):
    fig, ax = plt.subplots(figsize=(9, 5.5))
    f_min = surface.f_min()
    for method, (lr, path) in paths.items():
        values = np.array([surface.f(p) for p in path])
        if f_min is not None:
            values = np.maximum(values - f_min, LOSS_FLOOR)
        ax.plot(np.arange(len(path)), values, color=COLORS[method], label=_label(method, lr, path))
    if f_min is None:
        ax.set_yscale("symlog", linthresh=1e-3)
        ylabel = "f(x, y) (symmetric log scale; the saddle point has f = 0)"
    else:
        ax.set_yscale("log")
        ylabel = f"f(x, y) − f(minimum) (floored at {LOSS_FLOOR:g})"
    longest = max(len(p) for _, p in paths.values()) - 1
    ax.set(xscale="symlog" if longest > 200 else "linear", xlim=(0, longest),
           xlabel="step (L-BFGS, Newton: iteration)", ylabel=ylabel,
           title=f"Loss along each path on {surface.name.replace('_', ' ')}: {surface.formula}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2)
    output.figure(fig, f"{surface.name}_loss")


@command
def main(argv=None):
    p = parser("Paths of every optimizer on 2-D surfaces (ill-conditioned quadratic, saddle, Rosenbrock, "
               "tilted double well): contour plots, loss per step, a table of end points.", "experiments/paths",
               seed=False)
    p.add_argument("--surfaces", nargs="+", default=list(SURFACES), choices=list(SURFACES))
    p.add_argument("--methods", nargs="+", default=PATH_METHODS, choices=PATH_METHODS)
    p.add_argument("--start", nargs=2, type=float, metavar=("X", "Y"), help="start point (default: each surface's)")
    p.add_argument("--steps", type=int, help="steps (iterations) of every path (default: each surface's)")
    p.add_argument("--lr", nargs=2, action="append", metavar=("METHOD", "LR"), default=[],
                   help="a method's learning rate on every surface (repeat for several; newton: a step factor)")
    p.add_argument("--tuned", action="store_true",
                   help="plain SGD at its own tuned learning rate (default: momentum's, to compare their steps)")
    p.add_argument("--starts", type=int, default=9,
                   help="on the double well, each method also runs from this many starts across it (0: none)")
    args = p.parse_args(argv)
    lrs = {method: float(lr) for method, lr in args.lr}
    optimizer_paths(args.out, surfaces=args.surfaces, methods=args.methods, lrs=lrs, start=args.start,
                    steps=args.steps, tuned=args.tuned)
    if args.starts and "double_well" in args.surfaces:
        several_starts(args.out, methods=args.methods, starts=args.starts, lrs=lrs, steps=args.steps,
                       tuned=args.tuned)
    print(f"results in {args.out}")
