"""The `tinygrad-edu` command line: demo, train, graph, critical.

Errors are printed as one line starting with ``error:``; the exit status is
2 for bad arguments and 1 for other failures, and no traceback is shown.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import math
import operator
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from tinygrad_edu import __version__, critical, nn, optimizer_page, stepper, viz
from tinygrad_edu.files import atomic_path
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.trainer import DATASETS, OPTIMIZERS, SCHEDULES, Diverged, Run, TrainConfig


class UsageError(Exception):
    """Bad arguments: exit status 2."""


class Interrupted(Exception):
    """Ctrl-C or a closed output during a run; the message says what was saved and how to go on."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if "expected one argument" in message and "--at" in message:
            message += "; write a point with a negative first value as --at=-1,2"
        raise UsageError(f"{message} (see {self.prog} --help)")


def number_type(kind: type, low: float, inclusive: bool = True) -> Callable[[str], Any]:
    """An argparse type: a finite int or float, at least (or above) ``low``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            expected = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text[:40]!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            bound = f"at least {low:g}" if inclusive else f"above {low:g}"
            raise argparse.ArgumentTypeError(f"must be a finite {kind.__name__} {bound}, got {text}")
        return value

    return parse


POSITIVE_INT, NONNEGATIVE_INT = number_type(int, 1), number_type(int, 0)
POSITIVE, NONNEGATIVE = number_type(float, 0, inclusive=False), number_type(float, 0)


# ------------------------------------------------------------------ run folders
@contextlib.contextmanager
def writing(what: Path | str) -> Iterator[None]:
    """Name the file (or files) in the error when a write fails: a full disk, a file size limit."""
    try:
        yield
    except OSError as error:
        raise OSError(f"cannot write {what}: {error.strerror or error}") from None


RUN_FILES = ("checkpoint.npz", "metrics.json")


def run_folder(requested: str | None, prefix: str, force: bool = False, continuing: Path | None = None) -> Path:
    """The folder a run writes into: the one asked for, or runs/<prefix>-<time>.  A folder holding
    another run is refused unless ``force`` (or it holds the very run being ``continuing``)."""
    folder = Path(requested) if requested else Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    taken = [name for name in RUN_FILES if (folder / name).exists()]
    same_run = continuing is not None and folder.resolve() == continuing.resolve().parent
    if taken and not (force or same_run):
        raise UsageError(
            f"{folder} holds another run ({', '.join(taken)}); pass --force to overwrite it, or choose another --out"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise OSError(f"cannot write to the output folder {folder}: {error.strerror or error}") from None
    return folder


def write_plots(run: Run, point: critical.CriticalPoint, folder: Path) -> list[Path]:
    """Loss, accuracy and learning-rate curves, and the Hessian's spectrum at the end."""
    h = run.history
    try:
        written = [
            viz.plot_curves({"training loss (per step)": h["loss"]}, folder / "loss.png", log=True),
            viz.plot_curves(
                {"train": h["train_accuracy"], "test": h["test_accuracy"]},
                folder / "accuracy.png",
                xlabel="epoch",
                ylabel="accuracy",
            ),  # fmt: skip
            viz.plot_curves({"learning rate": h["lr"]}, folder / "lr.png", ylabel="learning rate"),
        ]
        spectrum = folder / "hessian_spectrum.png"
        if point.method == "dense":  # every eigenvalue is known
            written.append(viz.plot_spectrum(point.eigenvalues, spectrum, title="Hessian eigenvalues at the end"))
        else:
            grid, density = critical.eigenvalue_density(run.loss, run.model, steps=40, runs=2)
            written.append(viz.plot_density(grid, density, spectrum, title="Hessian spectral density (SLQ)"))
    except ImportError as error:
        print(f"note: no plots written: {error}")
        return []
    return written


def render_step_graph(run: Run, folder: Path) -> list[Path]:
    """The computation graph of one training step, on a batch of four samples,
    as a picture and as a page that steps through its forward and backward pass."""
    images = Tensor(run.X_train[:4], name="4 images")
    loss = run.loss(images, run.y_train[:4])
    loss.backward(retain_graph=True)
    params = dict(run.model.named_parameters())
    try:
        picture = viz.render(viz.draw_graph(loss, params=params), folder / "graph", "svg")
        return [picture, stepper.to_html(loss, folder / "graph.html", params=params)]
    except viz.GraphvizMissing as missing:
        print(f"note: {missing}")
        return [folder / "graph.dot"]
    finally:
        run.model.zero_grad()


MEANING = {
    "not_critical": "the gradient is not ~0 yet, so this is no critical point",
    "saddle": "a saddle point: the loss falls along the most negative eigenvector",
    "local_min": "a local minimum: every eigenvalue is positive",
    "local_max": "a local maximum",
    "degenerate": "inconclusive: some curvature is ~0",
}


def report(run: Run, folder: Path) -> None:
    """Accuracy, the critical-point check, the graph, the plots, the checkpoint."""
    h = run.history
    final_loss = run.loss().item()  # on the whole training set, as the critical-point check
    print(f"final training loss {final_loss:.4f} (whole training set; last batch {h['loss'][-1]:.4f})")
    print(f"train accuracy {h['train_accuracy'][-1]:.1%}, test accuracy {h['test_accuracy'][-1]:.1%}")
    point = critical.classify(run.loss, run.model, grad_tol=1e-3)
    top = point.eigenvalues[-1]  # exact (dense) or converged by Lanczos inside classify
    print(
        f"critical-point check ({point.method}, {run.model.num_parameters():,} parameters): "
        f"gradient norm {point.grad_norm:.2e}, minimum ratio {point.min_ratio:.3f}, "
        f"top Hessian eigenvalue {top:.4g}, lowest {point.eigenvalues[0]:.3g} → {point.kind} "
        f"({MEANING[point.kind]})"
    )
    with writing(f"graph.svg and graph.html in {folder}"):
        graphs = render_step_graph(run, folder)
    with writing(f"the plots in {folder}"):
        plots = write_plots(run, point, folder)
    metrics = {
        "config": asdict(run.config),
        "final_loss": final_loss,
        "train_accuracy": h["train_accuracy"][-1],
        "test_accuracy": h["test_accuracy"][-1],
        "critical_point": {
            "kind": point.kind, "method": point.method, "grad_norm": point.grad_norm,
            "min_ratio": point.min_ratio, "top_eigenvalue": float(top),
            "lowest_eigenvalue": float(point.eigenvalues[0]),
        },
    }  # fmt: skip
    with atomic_path(folder / "metrics.json") as temporary:
        temporary.write_text(json.dumps(metrics, indent=2))
    written = ", ".join(p.name for p in graphs + plots)
    print(f"wrote {written}, checkpoint.npz, metrics.json")


def demo(args: argparse.Namespace) -> Path:
    """Train a 64→32→10 MLP on the built-in 8×8 digits with Adam and warmup."""
    folder = run_folder(args.out, "demo", args.force)
    config = TrainConfig()
    print(
        f"demo: handwritten digits (1,797 images, 8×8), MLP 64→{config.hidden[0]}→10, "
        f"{config.optimizer} lr {config.lr} with {config.warmup_steps}-step warmup then cosine decay, "
        f"batch {config.batch_size}, {config.epochs} epochs; each step traced once and replayed by "
        "tinygrad_edu.jit (faster than eager on this network, the same numbers bit for bit)"
    )
    return train_and_report(Run.create(config), folder, args.quiet, jit=True)


CONFIG_FLAGS = ("dataset", "hidden", "activation", "optimizer", "lr", "momentum", "weight_decay", "schedule",
                "warmup_steps", "batch_size", "seed")  # fmt: skip


def train(args: argparse.Namespace) -> Path:
    """Train with every choice as a flag; --resume continues a checkpoint."""
    given = [name for name in CONFIG_FLAGS if getattr(args, name) is not None]
    if args.resume:
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise UsageError(
                f"--resume takes every setting from the checkpoint; drop {flags} (only --epochs may change)"
            )
        run = Run.resume(args.resume, epochs=args.epochs)
        if run.finished:
            raise UsageError(
                f"{args.resume} has trained all its {run.config.epochs} epochs; pass --epochs N with N > "
                f"{run.config.epochs} to train further"
            )
        print(f"resuming {args.resume} at epoch {run.epoch} of {run.config.epochs}")
        folder = run_folder(args.out, "train", args.force, continuing=Path(args.resume))
    else:
        config = TrainConfig(**{name: getattr(args, name) for name in given})
        if args.epochs is not None:
            config.epochs = args.epochs
        run = Run.create(config)
        folder = run_folder(args.out, "train", args.force)  # after the config is known to be valid
    return train_and_report(run, folder, args.quiet, args.jit)


def train_and_report(run: Run, folder: Path, quiet: bool, jit: bool) -> Path:
    """Train (a checkpoint at the end of every epoch), then report; on Ctrl-C or a closed
    output, say what was saved and how to continue."""
    checkpoint = folder / "checkpoint.npz"
    try:
        run.train(progress=not quiet, checkpoint=checkpoint, jit=jit)
        report(run, folder)
    except BaseException as stop:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # nothing was saved: leave nothing behind
        if isinstance(stop, Diverged):
            raise Diverged(f"{stop} (run folder: {folder})" if folder.is_dir() else str(stop)) from None
        if not isinstance(stop, (KeyboardInterrupt, BrokenPipeError)):
            raise
        cause = "interrupted" if isinstance(stop, KeyboardInterrupt) else "the output was closed"
        if not checkpoint.exists():
            raise Interrupted(f"{cause} in epoch 1, before any epoch was finished: nothing to save") from None
        where = "after training" if run.finished else f"in epoch {run.epoch + 1} of {run.config.epochs}"
        more = f" --epochs {run.epoch + 5}" if run.finished else ""
        raise Interrupted(
            f"{cause} {where}; epoch {run.epoch} is saved in {checkpoint}: continue with "
            f"tinygrad-edu train --resume {checkpoint}{more}"
        ) from None
    return folder


# ------------------------------------------------------------------ graph EXPR
BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow, ast.MatMult: operator.matmul,
}  # fmt: skip
FUNCTIONS = ("relu", "exp", "log", "tanh", "sigmoid", "sqrt", "abs")


MAX_EXPRESSION, MAX_OPERATIONS, RENDER_SECONDS = 2_000, 200, 20  # graph's bounds on its work


def shown(text: str, limit: int = 60) -> str:
    """Text quoted back to the user, cut to a readable length."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"… ({len(text):,} characters)"


def evaluate(expression: str, variables: dict[str, Tensor]) -> tuple[Tensor, list[Tensor]]:
    """Evaluate +, -, *, /, **, unary minus, numbers, names and relu/exp/log/... calls
    (nothing else: the expression is parsed, never passed to eval).  Numbers are floats,
    so a constant like 9**9**9 overflows at once instead of computing a huge integer."""
    if len(expression) > MAX_EXPRESSION:
        raise UsageError(f"the expression has {len(expression):,} characters; at most {MAX_EXPRESSION:,} are drawn")
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as error:
        reason = error.msg if isinstance(error, SyntaxError) else "it is nested too deeply"
        raise UsageError(f"cannot parse the expression {shown(expression)}: {reason}") from None
    operations = sum(isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Call)) for n in ast.walk(tree))
    if operations > MAX_OPERATIONS:
        raise UsageError(f"the expression has {operations} operations; at most {MAX_OPERATIONS} are drawn")
    results: list[Tensor] = []

    def visit(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return visit(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            value = float(node.value) if abs(node.value) < 1e308 else math.inf
            if not math.isfinite(value):
                raise UsageError(f"the number {shown(ast.unparse(node), 20)} is too large (the limit is about 1e308)")
            return value
        if isinstance(node, ast.Name):
            if node.id not in variables:
                raise UsageError(f"unknown name {node.id!r} in the expression; give it a value, e.g. {node.id}=1.5")
            return variables[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
            try:
                out = BINARY[type(node.op)](visit(node.left), visit(node.right))
            except OverflowError:
                raise UsageError(
                    f"{shown(ast.unparse(node), 40)} overflows (the result is above about 1e308)"
                ) from None
            except ZeroDivisionError:
                raise UsageError(f"{shown(ast.unparse(node), 40)} divides by zero") from None
            except ValueError as error:  # e.g. a @ a of two scalars
                raise UsageError(f"{shown(ast.unparse(node), 40)} cannot be computed: {error}") from None
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = visit(node.operand)
            out = -value if isinstance(node.op, ast.USub) else value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
            if len(node.args) != 1 or node.keywords:
                raise UsageError(f"{node.func.id}() takes exactly one argument")
            argument = visit(node.args[0])
            argument = argument if isinstance(argument, Tensor) else Tensor(argument)
            out = getattr(argument, node.func.id)()
        else:
            raise UsageError(
                f"unsupported expression {shown(ast.unparse(node), 40)}: use numbers, names, + - * / ** and "
                f"{', '.join(FUNCTIONS)}()"
            )
        if isinstance(out, Tensor):
            if out.name is None:  # the drawn box reads "a * b", not "scalar"
                out.name = shown(ast.unparse(node), 30).strip("'")
            results.append(out)
        return out

    out = visit(tree)
    if not isinstance(out, Tensor):
        raise UsageError("the expression uses no variable; write it in terms of named values such as a=2")
    return out, results


def parse_assignments(pairs: list[str]) -> dict[str, Tensor]:
    variables = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"expected NAME=VALUE, got {pair!r}")
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"{name}={value!r} is not a number") from None
        if not math.isfinite(number):
            raise UsageError(f"{name} must be a finite number, got {value}")
        variables[name] = Tensor(number, requires_grad=True, name=name)
    return variables


def graph(args: argparse.Namespace) -> Path:
    """Render the computation graph of an expression, with values and gradients."""
    variables = parse_assignments(args.values)
    out, intermediates = evaluate(args.expression, variables)
    for t in intermediates:
        t.retain_grad()
    out.backward(retain_graph=True)  # every variable is a scalar, so out is one too
    print(f"{args.expression} = {out.item():.6g}")
    for name, t in variables.items():
        gradient = t.grad.item() if t.grad is not None else 0.0
        print(f"  ∂/∂{name} = {gradient:.6g}")
    target = Path(args.out or ("graph.html" if args.html else "graph.svg"))
    if target.is_dir() or not target.name or target.name in (".", ".."):
        target = target / ("graph.html" if args.html else "graph.svg")
    if target.parent != Path(""):
        run_folder(str(target.parent), "graph")
    if args.html:
        if args.format:
            raise UsageError("--html writes a web page; drop --format")
        return stepper.to_html(out, target.with_suffix(".html"), rankdir=args.rankdir, timeout=RENDER_SECONDS)
    suffix = target.suffix.lstrip(".")
    format = args.format or (suffix if suffix in ("svg", "png", "pdf") else "svg")  # --out g.pdf draws a PDF
    dot = viz.draw_graph(out, rankdir=args.rankdir)
    try:
        return viz.render(dot, target.with_suffix(""), format, timeout=RENDER_SECONDS)
    except viz.GraphvizMissing as missing:
        print(f"note: {missing}")
        return target.with_suffix(".dot")


# ------------------------------------------------------------------ critical
POINT_FUNCTIONS: dict[str, tuple[str, Callable[[Tensor], Tensor]]] = {
    "bowl": ("x² + y²", lambda p: p[0] ** 2 + p[1] ** 2),
    "cap": ("−x² − y²", lambda p: -(p[0] ** 2) - p[1] ** 2),
    "saddle": ("x² − y²", lambda p: p[0] ** 2 - p[1] ** 2),
    "lecture": ("(1 − w₁w₂)², the lecture's ŷ = w₁w₂x on (x=1, ŷ=1)", lambda p: (1 - p[0] * p[1]) ** 2),
    "flat": ("x⁴ + y²", lambda p: p[0] ** 4 + p[1] ** 2),
    "monkey": ("x³ − 3xy² (monkey saddle)", lambda p: p[0] ** 3 - 3 * p[0] * p[1] ** 2),
    "rosenbrock": ("(1 − x)² + 100(y − x²)²", lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2),
}


def print_point(point: critical.CriticalPoint) -> None:
    shown = np.array2string(point.eigenvalues[:8], precision=4, suppress_small=True)
    more = f" … ({len(point.eigenvalues)} in all)" if len(point.eigenvalues) > 8 else ""
    print(f"kind: {point.kind}  ({MEANING[point.kind]}; method: {point.method})")
    print(f"loss {point.loss:.6g}, gradient norm {point.grad_norm:.3e}, minimum ratio {point.min_ratio:.3f}")
    print(f"eigenvalues (ascending): {shown}{more}")
    if point.escape_direction is not None and point.method == "dense" and len(point.eigenvalues) <= 8:
        print(f"escape direction: {np.round(np.ravel(point.escape_direction), 4)}")


def critical_command(args: argparse.Namespace) -> None:
    """Classify a point of a built-in function or of a saved model."""
    if args.checkpoint and (args.at is not None or args.function is not None):
        raise UsageError("--checkpoint classifies the saved model where it is; drop --function and --at")
    args.function, args.at = args.function or "lecture", args.at or "0,0"
    if args.checkpoint:
        run = Run.resume(args.checkpoint)
        print(f"{args.checkpoint}: {run.model.num_parameters():,} parameters, training loss of {run.config.dataset}")
        print_point(critical.classify(run.loss, run.model, grad_tol=args.grad_tol))
        return
    description, f = POINT_FUNCTIONS[args.function]
    try:
        at = np.array([float(v) for v in args.at.split(",")])
    except ValueError:
        raise UsageError(f"--at takes two comma-separated numbers such as 0,0; got {args.at!r}") from None
    if at.shape != (2,) or not np.all(np.isfinite(at)):
        raise UsageError(f"--at takes two finite comma-separated numbers such as 0,0; got {args.at!r}")
    print(f"{args.function}: L = {description}, at ({at[0]:g}, {at[1]:g})")
    print_point(critical.classify(f, at, grad_tol=args.grad_tol))


# ------------------------------------------------------------------ optimizers
def optimizers_command(args: argparse.Namespace) -> Path | None:
    """The lecture's optimizers on its error surfaces: the best final loss of each, and the page."""
    runs = optimizer_page.every_run()
    best = optimizer_page.best_learning_rates(runs)
    schedules = list(optimizer_page.SCHEDULES)
    for surface, f in optimizer_page.SURFACES.items():
        print(f"{f.title}; from {f.start}, {optimizer_page.STEPS} steps.")
        print(f"  lowest final loss over η = {optimizer_page.LEARNING_RATES[0]:g} … "
              f"{optimizer_page.LEARNING_RATES[-1]:g} (and the η that reached it):")  # fmt: skip
        print("  " + " " * 10 + "".join(f"{name:>22}" for name in schedules))
        for optimizer in optimizer_page.OPTIMIZERS:
            cells = [best[surface, optimizer, schedule] for schedule in schedules]
            print(f"  {optimizer:10}" + "".join(f"{f'{loss:.2e} (η={lr:g})':>22}" for loss, lr in cells))
    if not args.html:
        print("see every path, σᵗ and mᵗ step by step: tinygrad-edu optimizers --html")
        return None
    target = Path(args.out or "optimizers.html")
    if target.is_dir():
        target = target / "optimizers.html"
    if target.parent != Path(""):
        run_folder(str(target.parent), "optimizers")
    with writing(target):
        return optimizer_page.write(target.with_suffix(".html"), runs)


# ------------------------------------------------------------------ main
def build_parser() -> Parser:
    parser = Parser(prog="tinygrad-edu", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"tinygrad-edu {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = commands.add_parser("demo", help="train on the built-in digits and check the critical point")
    p.add_argument("--out", help="run folder (default: runs/demo-<time>)")
    p.add_argument("--force", action="store_true", help="overwrite the run already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(run=demo)

    p = commands.add_parser("train", help="train with every choice as a flag, or resume a checkpoint")
    d = TrainConfig()
    p.add_argument("--dataset", choices=DATASETS, help=f"default {d.dataset}")
    p.add_argument("--hidden", type=POSITIVE_INT, nargs="+", help=f"hidden layer sizes (default {d.hidden[0]})")
    p.add_argument("--activation", choices=sorted(nn.layers.ACTIVATIONS), help=f"default {d.activation}")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"default {d.optimizer}")
    p.add_argument("--lr", type=POSITIVE, help=f"learning rate, the peak with warmup (default {d.lr})")
    p.add_argument("--momentum", type=NONNEGATIVE, help="sgd: default 0; momentum: default 0.9")
    p.add_argument("--weight-decay", type=NONNEGATIVE, help=f"default {d.weight_decay}")
    p.add_argument("--schedule", choices=SCHEDULES, help=f"default {d.schedule}")
    p.add_argument("--warmup-steps", type=NONNEGATIVE_INT, help=f"default {d.warmup_steps}")
    p.add_argument("--batch-size", type=POSITIVE_INT, help=f"default {d.batch_size}")
    p.add_argument("--epochs", type=POSITIVE_INT, help=f"default {d.epochs}; with --resume, the new total")
    p.add_argument("--seed", type=NONNEGATIVE_INT, help=f"default {d.seed}")
    p.add_argument("--out", help="run folder (default: runs/train-<time>)")
    p.add_argument("--force", action="store_true", help="overwrite the run already in --out")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from a run folder's checkpoint.npz")
    p.add_argument("--jit", action="store_true", help="trace each step once and replay it (same numbers, faster)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(run=train)

    p = commands.add_parser("graph", help="render the computation graph of an expression")
    p.add_argument("expression", help='e.g. "a*b + b**3"')
    p.add_argument("values", nargs="*", metavar="NAME=VALUE", help="e.g. a=-4 b=2")
    p.add_argument("--out", help="output file (default graph.svg, or graph.html with --html)")
    p.add_argument("--format", choices=("svg", "png", "pdf"), help="default: from --out's suffix, else svg")
    p.add_argument("--rankdir", choices=("LR", "TB"), default="LR", help="left-to-right or top-down")
    p.add_argument(
        "--html",
        action="store_true",
        help="write a page that steps through the forward and backward pass (open it in a browser)",
    )
    p.set_defaults(run=graph)

    p = commands.add_parser("critical", help="classify a point: minimum, maximum or saddle?")
    p.add_argument("--function", choices=sorted(POINT_FUNCTIONS), help="default lecture")
    p.add_argument("--at", help="the point, as x,y (default 0,0; a negative first value: --at=-1,2)")
    p.add_argument("--checkpoint", help="classify a model saved by `train` instead (its training loss)")
    p.add_argument("--grad-tol", type=NONNEGATIVE, default=1e-6, help="largest gradient norm of a critical point")
    p.set_defaults(run=critical_command)

    p = commands.add_parser("optimizers", help="GD, momentum, RMS, RMSProp and Adam on the lecture's error surfaces")
    p.add_argument("--html", action="store_true", help="write a page with sliders for η and the step (offline)")
    p.add_argument("--out", help="the page's file with --html (default optimizers.html)")
    p.set_defaults(run=optimizers_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        with warnings.catch_warnings():  # numpy's overflow and invalid-value warnings become one error line
            warnings.simplefilter("error", RuntimeWarning)
            result = args.run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, BrokenPipeError, Interrupted) as error:
        if isinstance(error, BrokenPipeError) or "output was closed" in str(error):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to a closed pipe
        print(f"error: {error or 'interrupted'}", file=sys.stderr)
        return 1
    except RuntimeWarning as warning:
        print(f"error: numerical trouble: {warning} (a value became infinite or undefined)", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001  (the command line shows one line, never a traceback)
        print(f"error: {error}", file=sys.stderr)
        return 1
    if isinstance(result, Path):
        try:
            print(result, flush=True)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
