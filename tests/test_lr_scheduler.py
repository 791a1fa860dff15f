"""Learning-rate schedules: 120 steps of each against its closed form."""

import math

import numpy as np
import pytest

from tinygrad_edu import Tensor, optim
from tinygrad_edu.optim import lr_scheduler as S

BASE, STEPS = 0.1, 120


def make_optimizer(cls=optim.SGD, **kw):
    return cls([Tensor(np.ones(2), requires_grad=True)], lr=BASE, **kw)


def observed(scheduler, steps=STEPS):
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.optimizer.param_groups[0]["lr"])
        assert scheduler.get_last_lr()[0] == lrs[-1]
        scheduler.optimizer.step()
        scheduler.step()
    return lrs


def one_cycle_closed_form(t, total, max_lr, pct=0.3, div=25.0, final=1e4):
    initial, low = max_lr / div, max_lr / div / final
    peak = pct * total - 1
    if t <= peak:
        start, end, frac = initial, max_lr, t / peak
    else:
        start, end, frac = max_lr, low, (t - peak) / (total - 1 - peak)
    return end + (start - end) / 2 * (1 + math.cos(math.pi * frac))


CASES = {
    "StepLR": (lambda o: S.StepLR(o, step_size=7, gamma=0.5), lambda t: BASE * 0.5 ** (t // 7)),
    "MultiStepLR": (
        lambda o: S.MultiStepLR(o, milestones=[30, 10, 80], gamma=0.3),
        lambda t: BASE * 0.3 ** sum(t >= m for m in (10, 30, 80)),
    ),
    "ExponentialLR": (lambda o: S.ExponentialLR(o, gamma=0.97), lambda t: BASE * 0.97**t),
    "CosineAnnealingLR": (
        lambda o: S.CosineAnnealingLR(o, T_max=50, eta_min=0.001),
        lambda t: 0.001 + (BASE - 0.001) * (1 + math.cos(math.pi * t / 50)) / 2,
    ),
    "LinearLR": (
        lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=40),
        lambda t: BASE * (0.25 + 0.75 * min(t, 40) / 40),
    ),
    "LambdaLR": (lambda o: S.LambdaLR(o, lambda t: 1 / (1 + t)), lambda t: BASE / (1 + t)),
    "SequentialLR": (
        lambda o: S.SequentialLR(
            o, [S.LinearLR(o, start_factor=0.1, total_iters=10), S.ExponentialLR(o, gamma=0.9)], milestones=[10]
        ),
        lambda t: BASE * (0.1 + 0.9 * t / 10) if t < 10 else BASE * 0.9 ** (t - 10),
    ),
    "WarmupLR": (lambda o: S.WarmupLR(o, warmup_steps=20), lambda t: BASE * min((t + 1) / 20, 1.0)),
    "WarmupLR+cosine": (
        lambda o: S.WarmupLR(o, 10, after=S.CosineAnnealingLR(o, T_max=100)),
        lambda t: BASE * (t + 1) / 10 if t < 10 else BASE * (1 + math.cos(math.pi * (t - 10) / 100)) / 2,
    ),
    "InverseSqrtLR": (
        lambda o: S.InverseSqrtLR(o, d_model=64, warmup_steps=25),
        lambda t: BASE * 64**-0.5 * min((t + 1) ** -0.5, (t + 1) * 25**-1.5),
    ),
    "OneCycleLR": (
        lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=STEPS, cycle_momentum=False),
        lambda t: one_cycle_closed_form(t, STEPS, 1.0),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_schedule_matches_closed_form_for_120_steps(name):
    make, closed_form = CASES[name]
    lrs = observed(make(make_optimizer()))
    np.testing.assert_allclose(lrs, [closed_form(t) for t in range(STEPS)], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", CASES)
def test_state_dict_round_trip_resumes_the_same_sequence(name):
    make, _ = CASES[name]
    reference = observed(make(make_optimizer()))
    first = make(make_optimizer())
    observed(first, 50)
    state = first.state_dict()
    resumed = make(make_optimizer())
    resumed.load_state_dict(state)
    assert observed(resumed, STEPS - 50) == reference[50:]


def test_pure_function_forms_need_no_optimizer():
    schedule = S.linear_warmup(1.0, 4, after=S.cosine_annealing(1.0, T_max=10))
    assert [schedule(t) for t in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert schedule(14) == pytest.approx(0.0)


def test_warmup_rises_then_falls():
    opt = make_optimizer()
    lrs = observed(S.WarmupLR(opt, 10, after=S.ExponentialLR(opt, 0.9)), 30)
    peak = int(np.argmax(lrs))
    assert peak == 9 and all(np.diff(lrs[: peak + 1]) > 0)
    assert all(np.diff(lrs[peak:]) <= 0) and lrs[-1] < lrs[peak] * 0.2


def test_one_cycle_cycles_momentum_and_adam_beta1():
    opt = make_optimizer(momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=100)
    momenta = [opt.param_groups[0]["momentum"]]
    for _ in range(99):
        sched.step()
        momenta.append(opt.param_groups[0]["momentum"])
    assert momenta[0] == pytest.approx(0.95) and min(momenta) == pytest.approx(0.85, abs=1e-3)
    adam = make_optimizer(optim.Adam)
    S.OneCycleLR(adam, max_lr=1.0, total_steps=10)
    assert adam.param_groups[0]["betas"] == (0.95, 0.999)
    with pytest.raises(ValueError, match="momentum or betas"):
        S.OneCycleLR(make_optimizer(optim.Adagrad), max_lr=1.0, total_steps=10)


def test_one_cycle_refuses_to_run_past_its_end():
    sched = S.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=3, cycle_momentum=False)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="3 steps in total"):
        sched.step()


def test_two_chainable_schedulers_multiply_their_factors():
    """PyTorch's chaining: ExponentialLR(γ=0.9) and StepLR(3, 0.1) stepped together give
    ηᵗ = η⁰·0.9ᵗ·0.1^⌊t/3⌋ (each overwrote the other's before: 0.9ᵗ was lost)."""
    opt = make_optimizer()
    base = opt.param_groups[0]["lr"]
    schedulers = [S.ExponentialLR(opt, 0.9), S.StepLR(opt, step_size=3, gamma=0.1)]
    for t in range(1, 10):
        for scheduler in schedulers:
            scheduler.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(base * 0.9**t * 0.1 ** (t // 3), rel=1e-12)


def test_scheduler_state_from_another_scheduler_or_damaged_is_refused():
    state = S.StepLR(make_optimizer(), 5).state_dict()
    with pytest.raises(ValueError, match="StepLR, not a ExponentialLR"):
        S.ExponentialLR(make_optimizer(), 0.9).load_state_dict(state)
    for key, value, message in [("base_lrs", "abc", "base_lrs 'abc' are not 1 finite"),
                                ("base_lrs", [float("nan")], "finite numbers"),
                                ("last_epoch", "x", "last_epoch 'x' is not a step count")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            S.StepLR(make_optimizer(), 5).load_state_dict({**state, key: value})


@pytest.mark.parametrize("make,message", [
    (lambda o: S.StepLR(o, step_size=0), "step_size must be an integer of at least 1"),
    (lambda o: S.StepLR(o, step_size=True), "step_size must be an integer"),
    (lambda o: S.CosineAnnealingLR(o, T_max=0), "T_max must be an integer of at least 1"),
    (lambda o: S.ExponentialLR(o, gamma=-1), "finite gamma > 0"),
    (lambda o: S.ExponentialLR(o, gamma=float("nan")), "finite gamma > 0"),
    (lambda o: S.LambdaLR(o, lambda t: float("nan")), "gave the learning rate nan at step 0"),
    (lambda o: S.LinearLR(o, total_iters=0), "total_iters must be an integer of at least 1"),
    (lambda o: S.InverseSqrtLR(o, d_model=64, warmup_steps=0), "warmup_steps must be an integer of at least 1"),
    (lambda o: S.WarmupLR(o, 2.5), "warmup_steps must be an integer"),
])  # fmt: skip
def test_schedulers_refuse_arguments_that_would_break_the_learning_rate(make, message):
    opt = optim.SGD([Tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=message):
        make(opt)


def test_optimizers_take_numpy_scalars_as_pytorch_does():
    p = Tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=np.float32(0.5), momentum=np.float64(0.9))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5) and type(opt.param_groups[0]["lr"]) is float
    with pytest.raises(ValueError, match="Invalid lr"):
        optim.SGD([p], lr=True)
