"""Layers, activations, containers and losses."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from tinygrad_edu.nn import functional as F
from tinygrad_edu.nn import init
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.tensor import ArrayLike, Tensor


class Linear(Module):
    """y = x · Wᵀ + b, W: (out_features, in_features); PyTorch's initialisation
    U(−1/√in, 1/√in) for both W and b."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: np.dtype | type = np.float64,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.zeros((out_features, in_features)), dtype=dtype)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        self.bias = None
        if bias:
            bound = 1 / math.sqrt(in_features) if in_features else 0.0
            self.bias = Parameter(np.zeros(out_features), dtype=dtype)
            init.uniform_(self.bias, -bound, bound, generator)

    def forward(self, x: ArrayLike) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Activation(Module):
    """A module applying an nn.functional activation with fixed settings (shown in its repr)."""

    function: Callable[..., Tensor]

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        self.settings = settings

    def forward(self, x: Tensor) -> Tensor:
        return type(self).function(x, **self.settings)

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={value!r}" for name, value in self.settings.items())


class ReLU(Activation):
    function = staticmethod(F.relu)


class Sigmoid(Activation):
    function = staticmethod(F.sigmoid)


class Tanh(Activation):
    function = staticmethod(F.tanh)


class SiLU(Activation):
    function = staticmethod(F.silu)


class LeakyReLU(Activation):
    function = staticmethod(F.leaky_relu)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__(negative_slope=negative_slope)


class ELU(Activation):
    function = staticmethod(F.elu)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha=alpha)


class Softplus(Activation):
    function = staticmethod(F.softplus)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__(beta=beta, threshold=threshold)


class GELU(Activation):
    function = staticmethod(F.gelu)

    def __init__(self, approximate: str = "tanh") -> None:
        super().__init__(approximate=approximate)


ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "leaky_relu": LeakyReLU, "elu": ELU, "softplus": Softplus,
    "silu": SiLU, "gelu": GELU,
}  # fmt: skip


class ModuleList(Module):
    """Modules in a list, named "0", "1", … (PyTorch's ModuleList; a plain list attribute
    of a module is found as well)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        object.__setattr__(self, "_layers", [])  # unregistered: they are "0", "1", …
        self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} holds Modules, got {type(module).__name__}.")
        setattr(self, str(len(self._layers)), module)
        self._layers.append(module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, i: int) -> Module:
        return self._layers[i]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)


class Sequential(ModuleList):
    """Applies its modules in order; they are named "0", "1", ..."""

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def forward(self, x: ArrayLike) -> Tensor:
        for m in self._layers:
            x = m(x)
        return x


class MLP(Sequential):
    """Linear layers of the given sizes with an activation between them
    (none after the last): MLP([2, 16, 1]) = Linear(2,16) → ReLU → Linear(16,1)."""

    def __init__(
        self,
        sizes: list[int],
        activation: str = "relu",
        dtype: np.dtype | type = np.float64,
        generator: np.random.Generator | None = None,
    ) -> None:
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}.")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}.")
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            layers.append(Linear(n_in, n_out, dtype=dtype, generator=generator))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        super().__init__(*layers)
        self.sizes = list(sizes)


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    def forward(self, input: Tensor, target: ArrayLike) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    def forward(self, logits: Tensor, target: ArrayLike) -> Tensor:
        return F.cross_entropy(logits, target, self.reduction)


class NLLLoss(_Loss):
    def forward(self, input: Tensor, target: ArrayLike) -> Tensor:
        return F.nll_loss(input, target, self.reduction)
