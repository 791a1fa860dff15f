"""Neural-network building blocks: modules, layers, losses, init, checkpoints."""

from tinygrad_edu.nn import functional, init
from tinygrad_edu.nn.layers import MLP, CrossEntropyLoss, Linear, MSELoss, ReLU, Sequential, Sigmoid, Tanh
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.nn.serialization import load, save

__all__ = [
    "MLP", "CrossEntropyLoss", "Linear", "MSELoss", "Module", "Parameter", "ReLU", "Sequential",
    "Sigmoid", "Tanh", "functional", "init", "load", "save",
]  # fmt: skip
