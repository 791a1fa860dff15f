"""A complete training run from a small config: data, model, optimizer,
schedule, mini-batch loop, evaluation, checkpoints and resuming.

Used by the command line (``tinygrad-edu train`` / ``demo``) and the examples.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, datasets
from tinygrad_edu.engine import no_grad
from tinygrad_edu.jit import jit as trace_once
from tinygrad_edu.nn import functional as F
from tinygrad_edu.optim import lr_scheduler as S
from tinygrad_edu.tensor import Tensor, manual_seed

DATASETS = ("digits", "moons", "spirals", "blobs")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rms", "rmsprop", "rmsprop-lecture", "adam", "adamw", "radam")
SCHEDULES = ("none", "step", "exponential", "cosine", "warmup", "warmup-cosine", "inverse-sqrt", "onecycle")
HISTORY_KEYS = ("loss", "lr", "train_accuracy", "test_accuracy")
DIVERGED = 1e4  # a loss this many times its first value means the run diverged (RMSProp without warmup spikes to ~170×)
MAX_WIDTH = 100_000  # the widest hidden layer a config may ask for (a wider one would not fit in memory)


class Diverged(FloatingPointError):
    """The loss grew far beyond its first value or stopped being finite."""


@dataclass
class TrainConfig:
    dataset: str = "digits"
    hidden: list[int] = field(default_factory=lambda: [32])
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 1e-2
    momentum: float | None = None  # None: 0 for sgd (PyTorch's default), 0.9 for the lecture's momentum
    weight_decay: float = 0.0
    schedule: str = "warmup-cosine"
    warmup_steps: int = 50
    batch_size: int = 32
    epochs: int = 15
    seed: int = 0
    test_fraction: float = 0.2

    def check(self) -> None:
        """Refuse bad values with a message that names the fix."""
        for name, allowed in (("dataset", DATASETS), ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; choose one of {', '.join(allowed)}.")
        if self.activation not in nn.layers.ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; choose one of {', '.join(sorted(nn.layers.ACTIVATIONS))}."
            )
        if not self.hidden or any(not isinstance(h, int) or not 1 <= h <= MAX_WIDTH for h in self.hidden):
            raise ValueError(f"hidden sizes must be integers from 1 to {MAX_WIDTH:,}, got {self.hidden}.")
        for name in ("batch_size", "epochs"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer of at least 1, got {getattr(self, name)!r}.")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer of at least 0, got {self.warmup_steps!r}.")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr}.")
        for name in ("momentum", "weight_decay"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of at least 0, got {value}.")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must lie between 0 and 1, got {self.test_fraction}.")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}.")
        return cls(**values)


def load_data(config: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if config.dataset == "digits":
        X, y = datasets.digits()
    else:
        X, y = datasets.GENERATORS[config.dataset](n=600, seed=config.seed)
    return datasets.train_test_split(X, y, config.test_fraction, seed=config.seed)


def build_model(config: TrainConfig, n_inputs: int, n_classes: int) -> nn.MLP:
    sizes = [n_inputs, *config.hidden, n_classes]
    return nn.MLP(sizes, activation=config.activation, generator=np.random.default_rng(config.seed))


def build_optimizer(config: TrainConfig, params: list[Tensor]) -> optim.Optimizer:
    lr, wd, mu = config.lr, config.weight_decay, config.momentum
    makers: dict[str, Callable[[], optim.Optimizer]] = {
        "sgd": lambda: optim.SGD(params, lr=lr, momentum=mu or 0.0, weight_decay=wd),
        "momentum": lambda: optim.Momentum(params, lr=lr, momentum=0.9 if mu is None else mu),
        "adagrad": lambda: optim.Adagrad(params, lr=lr, weight_decay=wd),
        "rms": lambda: optim.RMS(params, lr=lr),
        "rmsprop": lambda: optim.RMSprop(params, lr=lr, weight_decay=wd),
        "rmsprop-lecture": lambda: optim.RMSprop(params, lr=lr, weight_decay=wd, lecture=True),
        "adam": lambda: optim.Adam(params, lr=lr, weight_decay=wd),
        "adamw": lambda: optim.AdamW(params, lr=lr, weight_decay=wd),
        "radam": lambda: optim.RAdam(params, lr=lr, weight_decay=wd),
    }
    return makers[config.optimizer]()


def build_schedule(config: TrainConfig, optimizer: optim.Optimizer, total_steps: int) -> S.LRScheduler:
    warmup = max(1, min(config.warmup_steps, total_steps - 1))
    makers: dict[str, Callable[[], S.LRScheduler]] = {
        "none": lambda: S.LambdaLR(optimizer, lambda t: 1.0),
        "step": lambda: S.StepLR(optimizer, step_size=max(1, total_steps // 3), gamma=0.1),
        "exponential": lambda: S.ExponentialLR(optimizer, gamma=0.01 ** (1 / total_steps)),
        "cosine": lambda: S.CosineAnnealingLR(optimizer, T_max=total_steps),
        "warmup": lambda: S.WarmupLR(optimizer, warmup),  # then constant
        "warmup-cosine": lambda: S.WarmupLR(
            optimizer, warmup, after=S.CosineAnnealingLR(optimizer, T_max=max(1, total_steps - warmup))
        ),
        # The Transformer schedule, scaled so that its peak (at the end of warmup) is lr.
        "inverse-sqrt": lambda: S.InverseSqrtLR(optimizer, d_model=1, warmup_steps=warmup),
        "onecycle": lambda: S.OneCycleLR(
            optimizer,
            max_lr=config.lr,
            total_steps=total_steps,
            cycle_momentum=config.optimizer not in ("adagrad", "rms"),  # they have no momentum to cycle
        ),  # fmt: skip
    }
    if config.schedule == "inverse-sqrt":
        for group in optimizer.param_groups:
            group["lr"] = config.lr * math.sqrt(warmup)
    return makers[config.schedule]()


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    with no_grad():
        return float((model(X).data.argmax(axis=1) == y).mean())


@dataclass
class Run:
    """Everything a training run consists of, built from its config."""

    config: TrainConfig
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    model: nn.MLP
    optimizer: optim.Optimizer
    scheduler: S.LRScheduler
    loader: DataLoader
    epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {key: [] for key in HISTORY_KEYS})

    @classmethod
    def create(cls, config: TrainConfig) -> Run:
        config.check()
        manual_seed(config.seed)
        X_train, X_test, y_train, y_test = load_data(config)
        n_classes = int(max(y_train.max(), y_test.max())) + 1
        model = build_model(config, X_train.shape[1], n_classes)
        optimizer = build_optimizer(config, model.parameters())
        loader = DataLoader(X_train, y_train, config.batch_size, shuffle=True, seed=config.seed)
        scheduler = build_schedule(config, optimizer, config.epochs * len(loader))
        return cls(config, X_train, X_test, y_train, y_test, model, optimizer, scheduler, loader)

    def loss(self, X: Any = None, y: Any = None) -> Tensor:
        """Mean cross-entropy on (X, y), by default the whole training set."""
        X = self.X_train if X is None else X
        y = self.y_train if y is None else y
        return F.cross_entropy(self.model(X), y)

    def step(self, X: Any, y: Any) -> Tensor:
        """One training step on a batch: the loss, its gradient, the optimizer's and the schedule's step."""
        loss = self.loss(X, y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return loss

    def train(self, progress: bool = True, checkpoint: str | Path | None = None, jit: bool = False) -> None:
        """Run the remaining epochs (all of them for a new run), saving ``checkpoint``
        (atomically) at the end of every epoch: an interrupted run loses at most
        the epoch it was in.  A progress bar on a terminal, a line per epoch otherwise.
        ``jit``: steps traced once per batch shape and replayed (the same numbers, bit for bit)."""
        step = trace_once(self.step) if jit else self.step
        terminal = sys.stderr.isatty()
        bar = tqdm(
            range(self.epoch, self.config.epochs), desc="training", unit="epoch", disable=not (progress and terminal),
            initial=self.epoch, total=self.config.epochs,
        )  # fmt: skip
        for _ in bar:
            first_batch = len(self.history["loss"])
            for xb, yb in self.loader:
                self.history["lr"].append(self.optimizer.param_groups[0]["lr"])
                self.history["loss"].append(step(xb, yb).item())
                self.check_divergence()
            epoch_loss = float(np.mean(self.history["loss"][first_batch:]))  # one batch's loss is mostly noise
            self.epoch += 1
            self.history["train_accuracy"].append(accuracy(self.model, self.X_train, self.y_train))
            self.history["test_accuracy"].append(accuracy(self.model, self.X_test, self.y_test))
            if checkpoint is not None:
                self.save(checkpoint)
            summary = f"mean batch loss {epoch_loss:.4f}, test accuracy {self.history['test_accuracy'][-1]:.3f}"
            if progress and not terminal:
                print(f"epoch {self.epoch}/{self.config.epochs}: {summary}", flush=True)
            bar.set_postfix_str(summary)

    def check_divergence(self) -> None:
        """Stop when the loss is no longer finite or has grown DIVERGED times past its first value."""
        first, last = self.history["loss"][0], self.history["loss"][-1]
        if not math.isfinite(last) or last > DIVERGED * max(first, 1e-12):
            raise Diverged(
                f"training diverged in epoch {self.epoch + 1}: the loss reached {last:.3g} (it started at "
                f"{first:.3g}); lower the learning rate (now {self.config.lr:g})"
                + (f" or the momentum (now {self.config.momentum:g})" if self.config.momentum else "")
                + (f"; the checkpoint of epoch {self.epoch} is kept." if self.epoch else ".")
            )

    # -- checkpoints -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "loader": self.loader.state_dict(),
            "history": self.history,
        }

    def save(self, path: str | Path) -> None:
        nn.save(self.state_dict(), path)

    @classmethod
    def resume(cls, path: str | Path, epochs: int | None = None) -> Run:
        """Rebuild a run from its checkpoint; ``epochs`` may extend it."""
        state = nn.load(path)
        not_a_checkpoint = f"{path} is not a training checkpoint of tinygrad-edu train"
        try:
            config = TrainConfig.from_dict(state["config"])
            trained, history = state["epoch"], {key: list(state["history"][key]) for key in HISTORY_KEYS}
            if not isinstance(trained, int) or not 0 <= trained <= config.epochs:
                raise TypeError(f"its epoch count {trained!r} is not between 0 and its {config.epochs} epochs")
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{not_a_checkpoint} ({error}).") from None
        if epochs is not None:
            if epochs < trained:
                raise ValueError(f"the checkpoint has already trained {trained} epochs; ask for more.")
            config.epochs = epochs
        run = cls.create(config)  # with more epochs, the schedule spans the new total
        try:
            run.model.load_state_dict(state["model"])
            run.optimizer.load_state_dict(state["optimizer"])
            run.scheduler.load_state_dict(state["scheduler"])
            run.loader.load_state_dict(state["loader"])
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise ValueError(f"{not_a_checkpoint}, or a damaged one ({error}).") from None
        run.epoch, run.history = trained, history
        return run

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs
