"""Neural-network building blocks: modules, layers, losses, init, checkpoints."""

from tinygrad_edu.nn import functional, init
from tinygrad_edu.nn.layers import (
    ELU,
    GELU,
    MLP,
    CrossEntropyLoss,
    LeakyReLU,
    Linear,
    ModuleList,
    MSELoss,
    NLLLoss,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
)  # fmt: skip
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.nn.serialization import load, save

__all__ = [
    "ELU", "GELU", "MLP", "CrossEntropyLoss", "LeakyReLU", "Linear", "MSELoss", "Module", "ModuleList", "NLLLoss",
    "Parameter", "ReLU", "Sequential", "SiLU", "Sigmoid", "Softplus", "Tanh", "functional", "init", "load", "save",
]  # fmt: skip
