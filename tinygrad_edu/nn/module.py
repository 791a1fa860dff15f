"""Module and Parameter: containers that find their trainable tensors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_edu.tensor import ArrayLike, Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (requires_grad=True)."""

    __slots__ = ()

    def __init__(self, data: ArrayLike, requires_grad: bool = True, dtype: Any = None, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)


def _held(container: list | tuple | dict) -> list[tuple[Any, Parameter | Module]]:
    """(index or key, item) for the Parameters and Modules a list, tuple or dict holds."""
    items = container.items() if isinstance(container, dict) else enumerate(container)
    return [(key, item) for key, item in items if isinstance(item, (Parameter, Module))]


def _may_hold_members(value: Any) -> bool:
    """A list, tuple or dict attribute that holds a Parameter or Module, or is empty (to be
    filled with layers): parameters() looks inside it at every call."""
    return isinstance(value, (list, tuple, dict)) and (not value or bool(_held(value)))


class Module:
    """Base class of layers and networks (PyTorch's nn.Module, in small).

    Assigning a Parameter or a Module to an attribute registers it, so
    ``parameters()`` and ``state_dict()`` find it under its attribute name.
    So are those in a list, tuple or dict attribute (``self.layers = [...]``,
    or ``[]`` filled by a loop: micrograd's way) as "layers.0", "layers.1", …
    — where PyTorch would silently leave them out of training, unless they
    are wrapped in a ModuleList.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_members", {})  # name → Parameter, Module, or a list, tuple or dict of them
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_members" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() first.")
        members = self._members
        members.pop(name, None)
        if isinstance(value, (Parameter, Module)) or _may_hold_members(value):
            members[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._members.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward().")

    def __call__(self, *args: Any) -> Any:
        return self.forward(*args)

    # -- traversal ----------------------------------------------------------
    def _named_members(self) -> list[tuple[str, Parameter | Module]]:
        """The Parameters set as attributes; then the Modules set as attributes and what list, tuple
        and dict attributes hold ("layers.0", "heads.key"), in the order set: PyTorch's order, where
        a module's own parameters come first and a list of parameters would be a ParameterList."""
        own, inside = [], []
        for name, member in self._members.items():
            if isinstance(member, Parameter):
                own.append((name, member))
            elif isinstance(member, Module):
                inside.append((name, member))
            else:
                inside += [(f"{name}.{key}", item) for key, item in _held(member)]
        return own + inside

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The modules directly inside this one."""
        return ((name, m) for name, m in self._named_members() if isinstance(m, Module))

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every one inside it, parents before children (PyTorch's order)."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every parameter once, in _named_members' order, depth first."""
        return iter(self._parameters_below("", set()))

    def parameters(self) -> list[Parameter]:
        """Every parameter once, in named_parameters' order (found afresh each call: ~4 µs for an MLP)."""
        return [p for _, p in self._parameters_below("", set())]

    def _parameters_below(self, prefix: str, seen: set[int]) -> list[tuple[str, Parameter]]:
        found = []
        for name, member in self._named_members():
            if isinstance(member, Module):
                found += member._parameters_below(f"{prefix}{name}.", seen)
            elif id(member) not in seen:
                seen.add(id(member))
                found.append((prefix + name, member))
        return found

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        for _, module in self.named_modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- state ----------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameter name → a copy of its values."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, ArrayLike], strict: bool = True) -> None:
        """Copy values into the parameters; names and shapes must match."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"state_dict does not match {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}."
            )
        for name, value in state.items():
            if name not in own:
                continue
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            p = own[name]
            if value.shape != p.shape:
                raise ValueError(f"state_dict['{name}'] has shape {value.shape} but the parameter has shape {p.shape}.")
            p.data[...] = value
            p.bump_version()

    # -- display -------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self.named_children():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + ("\n)" if len(lines) > 1 else ")")
