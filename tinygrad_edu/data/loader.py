"""Mini-batches: split the data into batches, reshuffle at every epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from tinygrad_edu.tensor import ArrayLike, Tensor


class DataLoader:
    """Iterate over (X, y) in batches of ``batch_size``.

    Each pass (epoch) visits every sample exactly once; with ``shuffle`` the
    order is drawn afresh every epoch (the lecture: "after each epoch the
    batches are split again"), reproducibly when ``seed`` is given.  The last,
    smaller batch is kept unless ``drop_last``.
    """

    def __init__(
        self,
        X: ArrayLike,
        y: ArrayLike | None = None,
        batch_size: int = 32,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int | None = None,
    ) -> None:
        self.X = np.asarray(X.data if isinstance(X, Tensor) else X)
        self.y = None if y is None else np.asarray(y.data if isinstance(y, Tensor) else y)
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if self.X.ndim == 0:
            raise ValueError("X must have a first axis of samples.")
        if len(self.X) == 0:
            raise ValueError("the dataset is empty: X has no samples.")
        if self.y is not None and len(self.y) != len(self.X):
            raise ValueError(f"X has {len(self.X)} samples but y has {len(self.y)}; they must match.")
        for name, array in (("X", self.X), ("y", self.y)):
            if array is not None and array.dtype.kind == "f" and not np.isfinite(array).all():
                row = int(np.argwhere(~np.isfinite(array))[0][0])
                raise ValueError(f"{name} holds NaN or infinity (first in sample {row}); clean or drop those samples.")
        self.batch_size = int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rng = np.random.default_rng(seed)

    def state_dict(self) -> dict:
        """The shuffling generator's state, so a resumed run draws the same orders."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.X)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Tensor | tuple[Tensor, Tensor]]:
        n = len(self.X)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            rows = order[start : start + self.batch_size]
            if self.y is None:
                yield Tensor._make(self.X[rows], None)
            else:
                yield Tensor._make(self.X[rows], None), Tensor._make(self.y[rows], None)
