"""Chapter 2, batch size: time per update and per epoch on this CPU, accuracy
on the digits, and how sharp the minimum found by small and large batches is.

    python examples/batch_size.py [--quick]
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _common import main

from tinygrad_edu import critical, nn, optim, viz
from tinygrad_edu.data import DataLoader, datasets
from tinygrad_edu.nn import functional as F

SIZES = [64, 32, 10]


def make_model(seed: int = 0) -> nn.MLP:
    return nn.MLP(SIZES, generator=np.random.default_rng(seed))


def timing(X: np.ndarray, y: np.ndarray, batch_sizes: list[int], quick: bool) -> dict:
    """Seconds per update (forward, backward, SGD step) and per epoch."""
    model = make_model()
    opt = optim.SGD(model.parameters(), lr=0.01)
    per_update = {}
    for b in batch_sizes:
        xb, yb = X[:b], y[:b]
        repeats = 20 if quick else 200
        start = time.perf_counter()
        for _ in range(repeats):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        per_update[b] = (time.perf_counter() - start) / repeats
    updates = {b: len(DataLoader(X, y, b)) for b in batch_sizes}  # updates per epoch: ⌈N / B⌉
    per_epoch = {b: per_update[b] * updates[b] for b in batch_sizes}
    for b in batch_sizes:
        print(f"  batch {b:5d}: {per_update[b] * 1e3:7.3f} ms per update, {per_epoch[b]:7.3f} s per epoch")
    return {"per_update": per_update, "per_epoch": per_epoch, "updates_per_epoch": updates}


def every_sample_once_per_epoch(n: int, batch_size: int) -> bool:
    """The DataLoader's promise: each epoch visits every sample exactly once, in a new order."""
    loader = DataLoader(np.arange(n), batch_size=batch_size, seed=0)
    first, second = (np.concatenate([batch.data for batch in loader]) for _ in range(2))
    return bool(np.array_equal(np.sort(first), np.arange(n)) and np.array_equal(np.sort(second), np.arange(n))
                and not np.array_equal(first, second))  # fmt: skip


def train(X, y, batch_size: int, updates: int, seed: int = 0, lr: float = 0.05) -> nn.MLP:
    """SGD with momentum (η = 0.05 unless given, λ = 0.9) for a number of updates, reshuffling every epoch."""
    model = make_model(seed)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loader = DataLoader(X, y, batch_size, seed=seed)
    done = 0
    while done < updates:
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            done += 1
            if done == updates:
                break
    return model


def tuned_learning_rates(X, y, X_val, y_val, batch_sizes: list[int], epochs: int, quick: bool) -> dict:
    """The same epochs for every batch size, each with its own best η: chosen on a quarter of the
    training set held out (seed 0), then trained on all of it from fresh seeds and validated."""
    X_fit, X_tune, y_fit, y_tune = datasets.train_test_split(X, y, test_fraction=0.25, seed=1)
    grid, seeds = ([0.01, 0.1, 1.0], [1, 2]) if quick else ([0.01, 0.03, 0.1, 0.3, 1.0], [1, 2, 3, 4, 5])
    print(f"  η tuned per batch size on a held-out quarter of the training set from {grid}, then "
          f"{len(seeds)} seeds, {epochs} epochs (mean ± standard deviation):")  # fmt: skip
    results = {}
    for b in batch_sizes:
        scores = [accuracy(train(X_fit, y_fit, b, epochs * int(np.ceil(len(X_fit) / b)), lr=lr), X_tune, y_tune)
                  for lr in grid]  # fmt: skip
        best = grid[int(np.argmax(scores))]
        fits = [train(X, y, b, epochs * int(np.ceil(len(X) / b)), seed=seed, lr=best) for seed in seeds]
        train_acc = np.array([accuracy(m, X, y) for m in fits])
        val_acc = np.array([accuracy(m, X_val, y_val) for m in fits])
        print(f"  batch {b:5d}: η {best:g}, train {train_acc.mean():.3f}, validation {val_acc.mean():.3f} "
              f"± {val_acc.std():.3f}")  # fmt: skip
        results[b] = {"lr": best, "validation": val_acc.tolist(), "train": train_acc.tolist()}
    return results


def accuracy(model: nn.MLP, X: np.ndarray, y: np.ndarray) -> float:
    return float((model(X).data.argmax(axis=1) == y).mean())


def filter_normalised_direction(model: nn.MLP, rng: np.random.Generator) -> list[np.ndarray]:
    """A random direction scaled row by row to the norms of the weights' rows
    (Li et al., 2018), so that curves of different networks are comparable."""
    direction = []
    for p in model.parameters():
        d = rng.standard_normal(p.shape)
        if p.ndim == 2:
            d *= np.linalg.norm(p.data, axis=1, keepdims=True) / np.linalg.norm(d, axis=1, keepdims=True)
        else:
            d[:] = 0.0  # biases stay put, as in the paper
        direction.append(d)
    return direction


def loss_along(model: nn.MLP, direction, X, y, alphas: np.ndarray) -> np.ndarray:
    originals = [p.data.copy() for p in model.parameters()]
    values = []
    for alpha in alphas:
        for p, start, d in zip(model.parameters(), originals, direction):
            p.data = start + alpha * d
        values.append(F.cross_entropy(model(X), y).item())
    for p, start in zip(model.parameters(), originals):
        p.data = start
    return np.array(values)


def run(quick: bool, out: Path) -> dict:
    X, y = datasets.digits()
    X_train, X_val, y_train, y_val = datasets.train_test_split(X, y, test_fraction=0.25, seed=0)
    full = len(X_train)
    batch_sizes = [8, 64, full] if quick else [1, 8, 32, 128, 512, full]
    print(f"digits: {full} training and {len(X_val)} validation images, MLP {'→'.join(map(str, SIZES))}")
    times = timing(X_train, y_train, batch_sizes, quick)
    once = every_sample_once_per_epoch(full, batch_sizes[1])
    print(f"  every sample exactly once per epoch, reshuffled between epochs: {once}")

    epochs = 4 if quick else 40
    accuracies, models = {}, {}
    for b in batch_sizes:
        models[b] = train(X_train, y_train, b, updates=epochs * int(np.ceil(full / b)))
        accuracies[b] = (accuracy(models[b], X_train, y_train), accuracy(models[b], X_val, y_val))
        print(f"  batch {b:5d}, {epochs} epochs: train {accuracies[b][0]:.3f}, validation {accuracies[b][1]:.3f}")

    tuned = tuned_learning_rates(X_train, y_train, X_val, y_val, batch_sizes[1:], epochs, quick)

    # Sharpness, fairly: the large batch gets as many updates as the small one, so both fit the data;
    # over several seeds (initialisation and shuffling), since one pair of runs proves little.
    small, large = (8, full) if quick else (32, full)
    updates = epochs * int(np.ceil(full / small))
    seeds = 2 if quick else 5
    sharpness, fits, curves = {small: [], large: []}, {small: [], large: []}, {}
    alphas = np.linspace(-1, 1, 21 if quick else 41)
    for seed in range(seeds):
        for b in (small, large):
            model = train(X_train, y_train, b, updates=updates, seed=seed)
            loss = lambda m=model: F.cross_entropy(m(X_train), y_train)  # noqa: E731
            top, _ = critical.top_eigenvalues(loss, model, tol=1e-4)
            sharpness[b].append(float(top[0]))
            fits[b].append((accuracy(model, X_train, y_train), accuracy(model, X_val, y_val)))
            if seed == 0:
                direction = filter_normalised_direction(model, np.random.default_rng(1))
                curves[f"batch {b}"] = loss_along(model, direction, X_train, y_train, alphas)
    print(f"  {updates} updates for both, {seeds} seeds (mean ± standard deviation):")
    for b in (small, large):
        train_acc, val_acc = np.array(fits[b]).T
        print(f"  batch {b:5d}: train {train_acc.mean():.3f}, validation {val_acc.mean():.3f} ± {val_acc.std():.3f}, "
              f"top Hessian eigenvalue {np.mean(sharpness[b]):.3f} ± {np.std(sharpness[b]):.3f}")  # fmt: skip
    sharper = sum(a > b for a, b in zip(sharpness[large], sharpness[small]))
    worse = sum(a[1] < b[1] for a, b in zip(fits[large], fits[small]))
    print(f"  the full batch is sharper in {sharper} of {seeds} seeds and validates worse in {worse} of {seeds}")

    _plots(out, batch_sizes, tuned, accuracies, alphas, curves)
    return {"batch_sizes": batch_sizes, "times": times, "every_sample_once": once, "accuracies": accuracies,
            "sharpness": sharpness, "tuned": tuned,
            "equal_updates": {"small": small, "large": large, "updates": updates, "accuracies": fits}}  # fmt: skip


def _plots(out, batch_sizes, tuned, accuracies, alphas, curves) -> None:
    """Accuracy (one η; η tuned per size, mean ± std over seeds) and sharpness. No timings:
    they change from run to run, so the chapter prints them instead of drawing them."""
    plt = viz._pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].semilogx(batch_sizes, [accuracies[b][0] for b in batch_sizes], "o-", label="train")
    axes[0].semilogx(batch_sizes, [accuracies[b][1] for b in batch_sizes], "s-", label="validation")
    axes[0].set(xlabel="batch size", ylabel="accuracy", title="same epochs, same η")
    axes[0].legend()
    sizes = sorted(tuned)
    axes[1].semilogx(sizes, [np.mean(tuned[b]["train"]) for b in sizes], "o-", label="train")
    validation = [np.array(tuned[b]["validation"]) for b in sizes]
    means, spreads = [v.mean() for v in validation], [v.std() for v in validation]
    axes[1].errorbar(sizes, means, yerr=spreads, fmt="s-", capsize=3, label="validation")
    axes[1].set(xlabel="batch size", ylabel="accuracy", title="same epochs, η tuned per size (mean ± std)")
    axes[1].legend()
    for label, values in curves.items():
        axes[2].plot(alphas, values, label=label)
    axes[2].set(xlabel="α (filter-normalised direction)", ylabel="training loss", title="sharpness of the minimum")
    axes[2].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    viz._save(fig, out / "batch_size.png")


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
