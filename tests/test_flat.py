"""optim.flat: one update over a group's parameters as flat arrays is the per-parameter
step, bit for bit, and steps aside (to optimizer.step) when it cannot fuse."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import Tensor, optim
from tinygrad_edu.optim.flat import FlatStep

OPTIMIZERS = [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: optim.Momentum(ps, lr=0.05),
    lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
    lambda ps: optim.RMS(ps, lr=0.05),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, lecture=True),
    lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.01),
    lambda ps: optim.AdamW(ps, lr=0.05),
    lambda ps: optim.RAdam(ps, lr=0.05),
    lambda ps: optim.SGD([{"params": ps[:2], "lr": 0.1}, {"params": ps[2:], "lr": 0.01}]),
]
SHAPES = [(3, 2), (2,), (), (4, 1, 2)]


def twins(make):
    """Two identical sets of parameters, each with its optimizer."""
    rng = np.random.default_rng(0)
    values = [rng.normal(size=s) for s in SHAPES]
    a = [Tensor(v.copy(), requires_grad=True) for v in values]
    b = [Tensor(v.copy(), requires_grad=True) for v in values]
    return a, make(a), b, make(b)


def give_gradients(params, t):
    rng = np.random.default_rng(t)
    for p in params:
        p.grad = Tensor(rng.normal(size=p.shape))


def assert_same(a, opt_a, b, opt_b):
    for x, y in zip(a, b):
        assert x.data.tobytes() == y.data.tobytes() and x.shape == y.shape
    sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for i in sa:
        assert sa[i].keys() == sb[i].keys()
        for key in sa[i]:
            x, y = np.asarray(sa[i][key]), np.asarray(sb[i][key])
            assert x.shape == y.shape and x.tobytes() == y.tobytes(), key


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_the_flat_step_is_the_step_bit_for_bit(make):
    a, opt_a, b, opt_b = twins(make)
    flat = FlatStep(opt_b, b)
    for t in range(12):
        give_gradients(a, t)
        give_gradients(b, t)
        opt_a.step()
        flat() if t % 4 != 3 else opt_b.step()  # eager steps in between keep working on the views
        assert_same(a, opt_a, b, opt_b)
    assert all(p.data.base is not None for p in b)  # the parameters are views into one flat array


def step_both(t, a, opt_a, b, flat, change=lambda ps: None):
    """Step 1: the same gradients and the same change to both; the eager step and the flat one agree."""
    for params in (a, b):
        give_gradients(params, t)
        change(params)
    opt_a.step()
    flat()
    assert_same(a, opt_a, b, flat.optimizer)


def test_it_re_flattens_after_load_state_dict_and_an_assigned_data():
    a, opt_a, b, opt_b = twins(lambda ps: optim.Adam(ps, lr=0.1))
    flat = FlatStep(opt_b, b)
    for t in range(6):
        if t == 2:
            opt_b.load_state_dict(opt_a.state_dict())  # new state arrays: the old views are gone
        copy_first = (lambda ps: setattr(ps[0], "data", ps[0].data.copy())) if t == 4 else (lambda ps: None)
        step_both(t, a, opt_a, b, flat, copy_first)  # a new array at t = 4: the flat θ must not be stale
    step_both(9, a, opt_a, b, flat, lambda ps: ps[1].data.fill(7.0))  # the views are the parameters


@pytest.mark.parametrize(
    "spoil,step_counts",
    [
        (lambda ps: setattr(ps[1], "grad", None), 2),  # a parameter without a gradient this step: a step behind
        (lambda ps: setattr(ps[0], "data", ps[0].data.astype(np.float32)), 1),  # dtypes differ: all step, unfused
    ],
)
def test_what_cannot_fuse_goes_through_the_ordinary_step(spoil, step_counts):
    a, opt_a, b, opt_b = twins(lambda ps: optim.Adam(ps, lr=0.1))
    flat = FlatStep(opt_b, b)
    for t in range(5):
        step_both(t, a, opt_a, b, flat, spoil if t == 2 else lambda ps: None)
    assert len({opt_b.state[p]["step"] for p in b}) == step_counts


def test_a_parameter_not_in_the_flat_set_still_gets_its_step():
    a, opt_a, b, opt_b = twins(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9))
    flat = FlatStep(opt_b, b[:3])  # the fourth is not among those the program hands gradients to
    for t in range(3):
        step_both(t, a, opt_a, b, flat)
