"""One optimizer step for many parameters at once (the multi-tensor, "foreach" update).

Every update rule in optimizers.py is elementwise: the i-th number of θ meets
only the i-th numbers of g, m and σ.  So updating six parameters is the same as
updating one long vector, their concatenation, and numpy's fixed cost per call
(about a microsecond, most of a tiny network's optimizer step) is paid once per
group instead of once per parameter.  The numbers are the same bit for bit:
each element goes through the same floating-point operations in the same order
(PyTorch's foreach and fused optimizers rest on the same fact).

``FlatStep(optimizer, params)`` is ``optimizer.step()`` done that way; jit
replays it in place of the step.  On its first call it moves each parameter's
data and optimizer state into one flat array per group, leaving views behind
(``p.data`` and ``optimizer.state[p]["exp_avg"]`` still have their shapes and
are still updated in place).  Each call checks that nothing replaced those
views (``load_state_dict``, an assignment to ``p.data``) and re-flattens if
something did; what it cannot fuse (parameters of different dtypes, different
step counts, a gradient missing) goes through ``optimizer.step()`` unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.engine import InPlace
from tinygrad_edu.optim.optimizers import Optimizer
from tinygrad_edu.tensor import Tensor


class FlatGroup:
    """One parameter group's tensors as slices of flat arrays: θ, g and each state array."""

    def __init__(self, group: dict[str, Any], params: list[Tensor]) -> None:
        self.group, self.params = group, params
        self.g = np.empty(0)
        self.flat: dict[str, Any] = {}  # "theta" and the flat state the update rule sees
        self.views: dict[str, list[np.ndarray]] = {}  # each flat array's view for each parameter
        self.layout: list[int] | None = None  # ids of the per-parameter states and views when last made current

    def ready(self, states: list[dict[str, Any] | None]) -> bool:
        """Make the flat arrays current (re-flatten what was replaced); False if this group cannot fuse."""
        if any(p._grad is None for p in self.params) or any(s is None for s in states):
            return False  # a gradient missing, or a parameter never stepped
        if self._layout(states) != self.layout and not self._reflatten(states):
            return False
        for key, value in states[0].items():
            if not isinstance(value, np.ndarray):  # a step count: the same for all, or no fusing
                if any(s[key] != value for s in states):
                    return False
                self.flat[key] = value
        return True

    def _layout(self, states: list[dict[str, Any]]) -> list[int]:
        """What must not change between two steps: the state dicts, their keys, the arrays in them and p.data."""
        keys = [key for key in self.flat if key != "theta" and isinstance(self.flat[key], np.ndarray)]
        return [x for s, p in zip(states, self.params)
                for x in (id(s), len(s), id(p.data), *(id(s.get(k)) for k in keys))]  # fmt: skip

    def _reflatten(self, states: list[dict[str, Any]]) -> bool:
        """Copy θ and each state array into flat arrays and leave views behind; False if they do not fit."""
        dtype = self.params[0].dtype
        if any(s.keys() != states[0].keys() for s in states):
            return False
        arrays = {"theta": [p.data for p in self.params]}
        arrays.update((key, [s[key] for s in states]) for key, v in states[0].items() if isinstance(v, np.ndarray))
        for group in arrays.values():
            if any(a.shape != p.shape or a.dtype != dtype for a, p in zip(group, self.params)):
                return False
        for key, group in arrays.items():
            self._adopt(key, np.concatenate([a.reshape(-1) for a in group]), states)
        if any(p._grad.dtype != dtype for p in self.params):
            return False
        self.g = np.empty_like(self.flat["theta"])
        self.layout = self._layout(states)
        return True

    def _adopt(self, key: str, flat: np.ndarray, states: list[dict[str, Any]]) -> None:
        """flat[key] = flat, cut into one view per parameter, which replace p.data or state[key]."""
        ends = np.cumsum([p.size for p in self.params])[:-1]
        self.flat[key] = flat
        self.views[key] = [part.reshape(p.shape) for part, p in zip(np.split(flat, ends), self.params)]
        for p, s, view in zip(self.params, states, self.views[key]):
            if key == "theta":
                p.data = view
            else:
                s[key] = view

    def step(self, optimizer: Optimizer, states: list[dict[str, Any]]) -> None:
        """The update on the flat arrays; then each parameter's state and version as after its own step."""
        np.concatenate([p._grad.data.reshape(-1) for p in self.params], out=self.g)
        state = {key: value for key, value in self.flat.items() if key != "theta"}
        optimizer.update(self.flat["theta"], self.g, state, self.group)
        for key, value in state.items():
            if not isinstance(value, np.ndarray):  # a step count
                for s in states:
                    s[key] = value
            elif value is not self.flat.get(key):  # the rule stored a new array: cut it into views
                self._adopt(key, value, states)
                self.layout = self._layout(states)
        version = InPlace.tick()  # each parameter changed in place (one tick serves them all)
        for p in self.params:
            p._version = version


class FlatStep:
    """``optimizer.step()`` with ``params`` (the ones given gradients) updated as flat arrays."""

    def __init__(self, optimizer: Optimizer, params: list[Tensor]) -> None:
        chosen = {id(p) for p in params}
        self.optimizer = optimizer
        self.groups = [
            FlatGroup(group, [p for p in group["params"] if id(p) in chosen])
            for group in optimizer.param_groups
            if any(id(p) in chosen for p in group["params"])
        ]
        self.others = [p for group in optimizer.param_groups for p in group["params"] if id(p) not in chosen]

    def __call__(self) -> None:
        state = self.optimizer.state
        states = [[state.get(p) for p in flat.params] for flat in self.groups]
        if any(p.grad is not None for p in self.others) or not all(
            flat.ready(s) for flat, s in zip(self.groups, states)
        ):
            self.optimizer.step()  # something it cannot fuse: the ordinary step
            return
        for flat, s in zip(self.groups, states):
            flat.step(self.optimizer, s)
