"""Second-order speed: HVP cost against a gradient, Lanczos on a 10k-parameter
MLP, and a dense Hessian against n HVPs.

Run:  python benchmarks/bench_second_order.py
"""

# ruff: noqa: E402, I001  (the BLAS thread count must be set, by benchmarks.timing, before numpy loads)
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import compare, print_table, references, seconds_per_call

import numpy as np

from benchmarks.networks import MEDIUM, NumpyMLP, make_data, ours, torch_model
from tinygrad_edu import critical, grad, nn, no_grad
from tinygrad_edu.autograd import hvp_once
from tinygrad_edu.engine import tangent_sweep
from tinygrad_edu.nn import functional as F
from tinygrad_edu.trainer import Run, TrainConfig


TITLE = "Second order and forward mode (targets: HVP ≤ 2× our gradient, ≤ 2× numpy's HVP; hvp_fn ≤ 1×; jvp ≤ 2.5×)"


def hvp_rows(torch):
    sizes, batch, loss_name = MEDIUM
    model, X, y, loss_fn = ours(sizes, batch, loss_name)
    params = model.parameters()
    objective = critical.Objective(lambda: loss_fn(model(X), y), model)
    v = np.random.default_rng(0).standard_normal(objective.n)
    vectors = objective.split(v)
    objective.at_point()  # the gradient graph, built once (make_hvp)

    def gradient():
        return grad(loss_fn(model(X), y), params)

    def full_hvp():  # forward, tangent sweep recording its graph, backward: all at this call
        return hvp_once(lambda: loss_fn(model(X), y), params, vectors)

    hvp_time, gradient_time = compare(full_hvp, gradient)
    floor = NumpyMLP(sizes, loss_name)
    Xn, yn = make_data(sizes, batch, loss_name)
    pairs = list(zip(vectors[::2], vectors[1::2]))  # (weight, bias) per layer
    hvp_again, numpy_hvp = compare(full_hvp, lambda: floor.hvp(Xn, yn, pairs))
    objective.hvp(v)  # the second product at this point compiles the tangent sweep; later ones replay it
    built_once, gradient_again = compare(lambda: objective.hvp(v), gradient)
    label = "→".join(map(str, sizes)) + f", batch {batch}"

    def forward():
        with no_grad():
            return loss_fn(model(X), y)

    def jvp_of_loss():  # forward mode: the loss and its derivative along vectors
        return tangent_sweep([loss_fn(model(X), y)], dict(zip(params, vectors)), create_graph=False)

    jvp_time, forward_time = compare(jvp_of_loss, forward)
    rows = [
        (f"HVP ÷ gradient, {label}", hvp_time, gradient_time, "our gradient"),
        (f"HVP, {label}", hvp_again, numpy_hvp, "hand-written numpy HVP"),
        (f"hvp_fn(v) of make_hvp, {label}", built_once, gradient_again, "our gradient"),
        (f"jvp of the loss, {label}", jvp_time, forward_time, "our forward pass"),
    ]
    if torch is not None:
        torch.set_num_threads(1)
        tmodel, tloss = torch_model(torch, sizes, loss_name)
        Xn, yn = make_data(sizes, batch, loss_name)
        tX, ty = torch.from_numpy(Xn), torch.from_numpy(yn)
        names = [name for name, _ in tmodel.named_parameters()]
        tparams = tuple(p.detach().clone() for p in tmodel.parameters())
        tv = tuple(torch.randn_like(p) for p in tparams)

        def torch_loss(*ps):
            out = torch.func.functional_call(tmodel, dict(zip(names, ps)), (tX,))
            return tloss(out, ty)

        torch_hvp = seconds_per_call(lambda: torch.autograd.functional.hvp(torch_loss, tparams, tv))
        rows.append((f"HVP, {label}", hvp_time, torch_hvp, "torch.autograd.functional.hvp"))
    return rows


def lanczos_report():
    rng = np.random.default_rng(0)
    model = nn.MLP([32, 128, 64, 10], activation="tanh", generator=rng)
    X, y = rng.standard_normal((128, 32)), rng.integers(0, 10, 128)
    products = [0]
    one_hvp = critical.Objective.hvp

    def counted(self, v):
        products[0] += 1
        return one_hvp(self, v)

    def loss():
        return F.cross_entropy(model(X), y)

    reference, _ = critical.top_eigenvalues(loss, model, tol=1e-12, max_steps=400)
    critical.Objective.hvp = counted
    try:
        start = time.perf_counter()
        value, _ = critical.top_eigenvalues(loss, model, tol=1e-3)
        seconds = time.perf_counter() - start
    finally:
        critical.Objective.hvp = one_hvp
    hvps = products[0]
    error = abs(value[0] - reference[0]) / abs(reference[0])
    print(
        f"\nTop Hessian eigenvalue, MLP 32→128→64→10 ({model.num_parameters():,} parameters): "
        f"λ_max = {value[0]:.6f}, relative error {error:.1e} (target 1e-3), {hvps} HVPs (target ≤ 30), "
        f"{seconds:.2f} s"
    )


def dense_rows():
    rng = np.random.default_rng(1)
    model = nn.MLP([8, 16, 4], activation="tanh", generator=rng)
    X, y = rng.standard_normal((32, 8)), rng.integers(0, 4, 32)
    params = model.parameters()
    objective = critical.Objective(lambda: F.cross_entropy(model(X), y), model)
    vectors = objective.split(rng.standard_normal(objective.n))
    dense = seconds_per_call(lambda: critical.Objective(objective.evaluate, model).hessian(), min_time=0.5, repeats=3)
    one_hvp = seconds_per_call(lambda: hvp_once(objective.evaluate, params, vectors))
    return [(f"dense Hessian, n = {objective.n}", dense, objective.n * one_hvp, f"{objective.n} × one HVP")]


def demo_check_report() -> None:
    """The demo's dense critical-point check (tinygrad-edu demo's classify, before training), part by part."""
    run = Run.create(TrainConfig())
    objective = critical.Objective(run.loss, run.model)
    start = time.perf_counter()
    H = objective.hessian()
    formed = time.perf_counter()
    eigenvalues = np.linalg.eigvalsh(H)
    diagonalised = time.perf_counter()
    critical.lowest_eigenvector(H, eigenvalues)
    end = time.perf_counter()
    print(
        f"\nThe demo's dense critical-point check ({objective.n:,} parameters, {len(run.y_train):,} samples): "
        f"{end - start:.2f} s = H {formed - start:.2f} s + eigenvalues {diagonalised - formed:.2f} s "
        f"+ the escape direction {end - diagonalised:.2f} s"
    )


def main() -> None:
    torch, _ = references()
    print_table(TITLE, hvp_rows(torch) + dense_rows())
    lanczos_report()
    demo_check_report()


if __name__ == "__main__":
    main()
