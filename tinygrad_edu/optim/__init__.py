"""Optimizers and learning-rate schedules: θ ← θ − (ηᵗ/σᵗ)·mᵗ in all its forms."""

from tinygrad_edu.optim import lr_scheduler
from tinygrad_edu.optim.optimizers import RMS, SGD, Adagrad, Adam, AdamW, Momentum, Optimizer, RAdam, RMSprop

__all__ = ["RMS", "SGD", "Adagrad", "Adam", "AdamW", "Momentum", "Optimizer", "RAdam", "RMSprop", "lr_scheduler"]
