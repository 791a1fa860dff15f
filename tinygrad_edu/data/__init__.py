"""Data: the mini-batch DataLoader and built-in datasets."""

from tinygrad_edu.data import datasets
from tinygrad_edu.data.loader import DataLoader

__all__ = ["DataLoader", "datasets"]
