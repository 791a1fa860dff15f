"""Small datasets: seeded 2-D generators and the 8×8 handwritten digits.

Every generator returns ``(X, y)`` numpy arrays: X float64 of shape (n, 2),
y int64 class labels.
"""

from __future__ import annotations

from importlib import resources

import numpy as np


def moons(n: int = 200, noise: float = 0.1, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (classes 0 and 1)."""
    rng = np.random.default_rng(seed)
    upper = n // 2
    angles = np.concatenate([np.linspace(0, np.pi, upper), np.linspace(0, np.pi, n - upper)])
    X = np.column_stack([np.cos(angles), np.sin(angles)])
    X[upper:] = np.column_stack([1 - np.cos(angles[upper:]), 0.5 - np.sin(angles[upper:])])
    y = np.repeat([0, 1], [upper, n - upper])
    return X + noise * rng.standard_normal(X.shape), y


def spirals(n: int = 300, classes: int = 3, noise: float = 0.2, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms (CS231n's classic)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    radius = rng.uniform(0.05, 1.0, n)
    angle = y * 2 * np.pi / classes + 4 * radius + noise * rng.standard_normal(n)
    return np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]), y


def blobs(n: int = 200, centers: int = 3, std: float = 0.5, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around ``centers`` points spread on a circle of radius 3."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % centers
    angle = 2 * np.pi * np.arange(centers) / centers
    middle = 3 * np.column_stack([np.cos(angle), np.sin(angle)])
    return middle[y] + std * rng.standard_normal((n, 2)), y


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8×8 handwritten digits (UCI "optdigits" test set, CC BY 4.0),
    shipped with the package: X float64 (1797, 64) in [0, 1], y int64 in 0..9."""
    with resources.files("tinygrad_edu.data").joinpath("digits.npz").open("rb") as f, np.load(f) as archive:
        images, labels = archive["images"], archive["labels"]
    return images.reshape(len(images), -1) / 16.0, labels.astype(np.int64)


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle once and hold out ``test_fraction`` of the samples: X_train, X_test, y_train, y_test."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}.")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = max(1, round(test_fraction * len(X)))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


GENERATORS = {"moons": moons, "spirals": spirals, "blobs": blobs}
