"""Optimizers, step by step, against their update formulas written out here."""

import math

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn, optim

STEPS = 25
RNG = np.random.default_rng(42)
THETA0 = RNG.standard_normal((3, 2))
SCALES = np.array([[1.0, 2.0], [0.5, 3.0], [1.5, 0.2]])


def loss_of(theta):
    """A bounded, non-quadratic loss with per-coordinate curvature."""
    return (SCALES * theta**2).sum() + (theta**4).sum() * 0.1 - theta.sum()


def gradient(theta):
    return 2 * SCALES * theta + 0.4 * theta**3 - 1


def run_optimizer(cls, **hyper):
    p = Tensor(THETA0.copy(), requires_grad=True)
    opt = cls([p], **hyper)
    trajectory = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(p).backward()
        opt.step()
        trajectory.append(p.data.copy())
    return trajectory


def run_formula(update):
    theta, state, trajectory = THETA0.copy(), {}, []
    for t in range(1, STEPS + 1):
        theta = update(theta, gradient(theta), state, t)
        trajectory.append(theta.copy())
    return trajectory


def assert_same(ours, expected):
    for a, b in zip(ours, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("momentum,dampening,nesterov,wd", [
    (0, 0, False, 0), (0.9, 0, False, 0), (0.9, 0.3, False, 0), (0.8, 0, True, 0), (0.9, 0, True, 0.05),
])  # fmt: skip
def test_sgd_matches_formula(momentum, dampening, nesterov, wd):
    lr = 0.02

    def update(theta, g, s, t):
        g = g + wd * theta
        if momentum:
            s["b"] = g if t == 1 else momentum * s["b"] + (1 - dampening) * g
            g = g + momentum * s["b"] if nesterov else s["b"]
        return theta - lr * g

    hyper = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=wd)
    assert_same(run_optimizer(optim.SGD, **hyper), run_formula(update))


def test_lecture_momentum_matches_formula():
    lr, lam = 0.02, 0.9

    def update(theta, g, s, t):
        s["m"] = lam * s.get("m", 0.0) - lr * g  # m^t = λ m^{t-1} − η g
        return theta + s["m"]  # θ^t = θ^{t-1} + m^t

    assert_same(run_optimizer(optim.Momentum, lr=lr, momentum=lam), run_formula(update))


def test_lecture_momentum_equals_pytorch_sgd_momentum_with_constant_lr():
    a = run_optimizer(optim.Momentum, lr=0.02, momentum=0.9)
    b = run_optimizer(optim.SGD, lr=0.02, momentum=0.9)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-10)


@pytest.mark.parametrize("lr_decay,wd,init", [(0, 0, 0), (0.05, 0.1, 0.2)])
def test_adagrad_matches_formula(lr_decay, wd, init):
    lr, eps = 0.5, 1e-10

    def update(theta, g, s, t):
        g = g + wd * theta
        s["sum"] = s.get("sum", np.full_like(theta, init)) + g * g
        clr = lr / (1 + (t - 1) * lr_decay)
        return theta - clr * g / (np.sqrt(s["sum"]) + eps)

    hyper = dict(lr=lr, lr_decay=lr_decay, weight_decay=wd, initial_accumulator_value=init)
    assert_same(run_optimizer(optim.Adagrad, **hyper), run_formula(update))


def test_lecture_rms_matches_formula():
    lr = 0.1

    def update(theta, g, s, t):
        s.setdefault("history", []).append(g)
        sigma = np.sqrt(np.mean(np.square(s["history"]), axis=0))  # RMS of g⁰..gᵗ
        return theta - lr / (sigma + 1e-10) * g

    assert_same(run_optimizer(optim.RMS, lr=lr), run_formula(update))


@pytest.mark.parametrize("centered,momentum,wd", [(False, 0, 0), (True, 0, 0), (False, 0.5, 0.1), (True, 0.7, 0)])
def test_rmsprop_matches_formula(centered, momentum, wd):
    lr, alpha, eps = 0.01, 0.9, 1e-8

    def update(theta, g, s, t):
        g = g + wd * theta
        s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g**2
        v = s["v"]
        if centered:
            s["mean"] = alpha * s.get("mean", 0.0) + (1 - alpha) * g
            v = v - s["mean"] ** 2
        sigma = np.sqrt(v) + eps
        if momentum:
            s["b"] = momentum * s.get("b", 0.0) + g / sigma
            return theta - lr * s["b"]
        return theta - lr * g / sigma

    hyper = dict(lr=lr, alpha=alpha, centered=centered, momentum=momentum, weight_decay=wd)
    assert_same(run_optimizer(optim.RMSprop, **hyper), run_formula(update))


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("amsgrad,wd", [(False, 0), (True, 0), (False, 0.1), (True, 0.05)])
def test_adam_and_adamw_match_formula(cls, amsgrad, wd):
    lr, b1, b2, eps = 0.05, 0.8, 0.95, 1e-8

    def update(theta, g, s, t):
        if cls is optim.AdamW:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g**2
        v = s["v"]
        if amsgrad:
            s["vmax"] = np.maximum(s.get("vmax", 0.0), v)
            v = s["vmax"]
        m_hat = s["m"] / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps * 1)

    ours = run_optimizer(cls, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, amsgrad=amsgrad)
    # PyTorch puts ε after dividing √v by √(1−β₂ᵗ), which is the same as ε on √v̂.
    for a, b in zip(ours, run_formula(update)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_defaults_are_pytorchs():
    p = [Tensor(np.ones(2), requires_grad=True)]
    assert optim.SGD(p).defaults == dict(lr=1e-3, momentum=0, dampening=0, nesterov=False, weight_decay=0)
    assert optim.Adagrad(p).defaults == dict(
        lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10
    )
    assert optim.RMSprop(p).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False)
    assert optim.Adam(p).defaults == dict(
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, decoupled_weight_decay=False
    )
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2


def test_rmsprop_with_alpha_zero_takes_sign_like_steps():
    """α → 0: σ = |g|, so every coordinate moves by η·g/|g| = ±η."""
    p = Tensor(THETA0.copy(), requires_grad=True)
    opt = optim.RMSprop([p], lr=0.01, alpha=0.0, eps=0.0)
    before = p.data.copy()
    loss_of(p).backward()
    g = p.grad.data.copy()
    opt.step()
    np.testing.assert_allclose(before - p.data, 0.01 * np.sign(g), rtol=1e-12)


def test_adam_with_beta1_zero_is_bias_corrected_rmsprop_scaling():
    b2, lr, eps = 0.9, 0.01, 1e-8

    def update(theta, g, s, t):
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        return theta - lr * g / (np.sqrt(s["v"] / (1 - b2**t)) + eps)

    ours = run_optimizer(optim.Adam, lr=lr, betas=(0.0, b2), eps=eps)
    for a, b in zip(ours, run_formula(update)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_all_optimizers_share_the_summary_update():
    """θ ← θ − (η/σ)·m: every optimizer only supplies (η, σ, m)."""
    for cls in (
        optim.SGD,
        optim.Momentum,
        optim.Adagrad,
        optim.RMS,
        optim.RMSprop,
        optim.Adam,
        optim.AdamW,
        optim.RAdam,
    ):
        assert cls.step is optim.Optimizer.step
        assert cls.direction_and_scale is not optim.Optimizer.direction_and_scale


def test_parameters_without_gradient_are_skipped_and_groups_have_own_lr():
    a = Tensor([1.0], requires_grad=True)
    b = Tensor([1.0], requires_grad=True)
    c = Tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b, c], "lr": 0.5}], lr=0.1)
    (a + b).sum().backward()
    opt.step()
    assert a.data[0] == pytest.approx(0.9) and b.data[0] == pytest.approx(0.5) and c.data[0] == 1.0
    opt.zero_grad()
    assert a.grad is None
    (a * 1).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert a.grad.data[0] == 0.0


@pytest.mark.parametrize("bad", [dict(lr=-0.1), dict(lr=float("nan")), dict(weight_decay=-1)])
def test_bad_hyperparameters_are_refused(bad):
    with pytest.raises(ValueError, match="Invalid"):
        optim.Adam([Tensor([1.0], requires_grad=True)], **bad)


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.9)])
def test_betas_outside_unit_interval_are_refused(betas):
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([Tensor([1.0], requires_grad=True)], betas=betas)


def test_empty_and_duplicate_parameter_lists_are_refused():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    p = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([p, p])
    with pytest.raises(ValueError, match="requires_grad"):
        optim.SGD([Tensor([1.0])])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], nesterov=True)


def test_state_dict_from_another_optimizer_or_shape_is_refused():
    p = Tensor(np.ones(3), requires_grad=True)
    adam = optim.Adam([p])
    (p * p).sum().backward()
    adam.step()
    with pytest.raises(ValueError, match="from a Adam optimizer, not SGD"):
        optim.SGD([p]).load_state_dict(adam.state_dict())
    other = optim.Adam([Tensor(np.ones(4), requires_grad=True)])
    with pytest.raises(ValueError, match=r"shape \(3,\), but the parameter is a float array of shape \(4,\)"):
        other.load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match="number of parameter groups"):
        optim.Adam([p, Tensor([1.0], requires_grad=True)]).load_state_dict(adam.state_dict())


@pytest.mark.parametrize("damage,message", [
    (lambda s: s["state"].update({7: s["state"][0]}), "state for parameter 7; there are 1 parameters"),
    (lambda s: s["state"][0].update(step="x"), "state 'step' of parameter 0 is 'x'"),
    (lambda s: s["state"][0].update(exp_avg=np.zeros(3, int)), "int64 array of shape"),
    (lambda s: s["param_groups"][0].update(lr=float("nan")), "Invalid lr: nan"),
    (lambda s: s["param_groups"][0].update(betas=[0.9]), "Invalid betas"),
])  # fmt: skip
def test_a_damaged_state_dict_is_refused_and_changes_nothing(damage, message):
    """What a checkpoint file says is checked before anything is taken from it: a damaged one
    crashed in the middle of training (a step count 'x'), or trained on (a learning rate nan)."""
    p = Tensor(np.ones(3), requires_grad=True)
    adam = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    adam.step()
    state = adam.state_dict()
    damage(state)
    settings = [{k: v for k, v in group.items() if k != "params"} for group in adam.param_groups]
    kept = adam.state[p]
    with pytest.raises(ValueError, match=message):
        adam.load_state_dict(state)
    assert [{k: v for k, v in group.items() if k != "params"} for group in adam.param_groups] == settings
    assert adam.state[p] is kept and adam.state[p]["step"] == 1


def test_ill_conditioned_convex_surface_defeats_fixed_lr_but_not_adaptive_methods():
    """The lecture's claim on L = x² + 10⁴·y² from (1, 1) (condition number 10⁴).

    Measured here: fixed-η gradient descent over the grid η ∈ {10⁻⁶ … 9.99·10⁻⁵}
    never gets within 1e-6 of the minimum in 10,000 steps (large η oscillates
    or diverges along y, small η crawls along x).  The adaptive methods do,
    measured: Adagrad (η=0.3) in 61 steps, RMSProp (η=0.01, exponential decay
    γ=0.995) in 453, Adam (η=0.1, decay γ=0.99) in 199.  Without decay RMSProp
    and Adam keep oscillating around the minimum at a distance set by η.
    """

    def steps_to_converge(make, limit=10_000, schedule=None):
        p = Tensor([1.0, 1.0], requires_grad=True)
        opt = make([p])
        scheduler = schedule(opt) if schedule else None
        weights = np.array([1.0, 1e4])
        for step in range(1, limit + 1):
            opt.zero_grad()
            (Tensor(weights) * p * p).sum().backward()
            opt.step()
            if scheduler:
                scheduler.step()
            if np.max(np.abs(p.data)) < 1e-6:
                return step
        return None

    # Stable fixed step sizes need η < 2/L_max = 1e-4; the grid spans that range.
    for lr in [1e-6, 1e-5, 5e-5, 9e-5, 9.99e-5, 1.01e-4]:
        assert steps_to_converge(lambda ps, lr=lr: optim.SGD(ps, lr=lr)) is None, lr

    def decay(gamma):
        return lambda opt: optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)

    adagrad = steps_to_converge(lambda ps: optim.Adagrad(ps, lr=0.3))
    rmsprop = steps_to_converge(lambda ps: optim.RMSprop(ps, lr=0.01), schedule=decay(0.995))
    adam = steps_to_converge(lambda ps: optim.Adam(ps, lr=0.1), schedule=decay(0.99))
    for steps in (adagrad, rmsprop, adam):
        assert steps is not None and steps < 1000, (adagrad, rmsprop, adam)


def test_training_resumed_from_checkpoint_matches_uninterrupted_run_bit_for_bit(tmp_path):
    from tinygrad_edu.data import DataLoader, datasets

    X, y = datasets.moons(64, seed=1)

    def make():
        model = nn.MLP([2, 8, 2], generator=np.random.default_rng(0))
        opt = optim.Adam(model.parameters(), lr=0.01)
        warm = optim.lr_scheduler.WarmupLR(opt, 5, after=optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20))
        return model, opt, warm

    def train(model, opt, sched, loader, steps):
        batches = iter(())
        for _ in range(steps):
            batch = next(batches, None)
            if batch is None:
                batches = iter(loader)
                batch = next(batches)
            opt.zero_grad()
            nn.functional.cross_entropy(model(batch[0]), batch[1]).backward()
            opt.step()
            sched.step()

    model, opt, sched = make()
    train(model, opt, sched, DataLoader(X, y, 16, seed=3), 12)

    first, opt1, sched1 = make()
    loader = DataLoader(X, y, 16, seed=3)
    train(first, opt1, sched1, loader, 8)  # 8 steps = 2 whole epochs of 4 batches
    path = tmp_path / "ckpt.npz"
    nn.save(
        {
            "model": first.state_dict(),
            "optim": opt1.state_dict(),
            "sched": sched1.state_dict(),
            "data": loader.state_dict(),
        },
        path,
    )

    resumed, opt2, sched2 = make()
    saved = nn.load(path)
    resumed.load_state_dict(saved["model"])
    opt2.load_state_dict(saved["optim"])
    sched2.load_state_dict(saved["sched"])
    resumed_loader = DataLoader(X, y, 16, seed=99)
    resumed_loader.load_state_dict(saved["data"])
    train(resumed, opt2, sched2, resumed_loader, 4)
    for (name, a), (_, b) in zip(model.named_parameters(), resumed.named_parameters()):
        assert np.array_equal(a.data, b.data), name
    assert math.isclose(sched.get_last_lr()[0], sched2.get_last_lr()[0], rel_tol=0, abs_tol=0)


@pytest.mark.parametrize("alpha", [0.9, 0.99])
def test_lecture_rmsprop_starts_from_the_first_gradient(alpha):
    lr, eps = 0.01, 1e-8

    def update(theta, g, s, t):
        s["sigma2"] = g * g if t == 1 else alpha * s["sigma2"] + (1 - alpha) * g * g  # σ⁰ = |g⁰|
        return theta - lr * g / (np.sqrt(s["sigma2"]) + eps)

    assert_same(run_optimizer(optim.RMSprop, lr=lr, alpha=alpha, lecture=True), run_formula(update))
    first_lecture = run_optimizer(optim.RMSprop, lr=lr, alpha=alpha, lecture=True)[0] - THETA0
    first_pytorch = run_optimizer(optim.RMSprop, lr=lr, alpha=alpha)[0] - THETA0
    np.testing.assert_allclose(first_pytorch / first_lecture, 1 / np.sqrt(1 - alpha), rtol=1e-5)  # 3.2× at α = 0.9


@pytest.mark.parametrize("decoupled", [False, True])
def test_radam_matches_formula(decoupled):
    lr, (b1, b2), eps, wd = 0.05, (0.9, 0.999), 1e-8, 0.1

    def update(theta, g, s, t):
        if decoupled:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1**t)
        rho_inf = 2 / (1 - b2) - 1
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho <= 5:  # the first 5 steps: σ rests on too few samples
            return theta - lr * m_hat
        r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
        return theta - lr * r * m_hat * math.sqrt(1 - b2**t) / (np.sqrt(s["v"]) + eps)

    ours = run_optimizer(optim.RAdam, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, decoupled_weight_decay=decoupled)
    for a, b in zip(ours, run_formula(update)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
        lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, lecture=True),
        lambda ps: optim.Adam(ps, lr=0.1, amsgrad=True, weight_decay=0.1),
        lambda ps: optim.Adagrad(ps, lr=0.1),
    ],
)
def test_a_0d_parameter_steps_like_a_one_element_one(make):
    """numpy turns 0-d results into scalars; state kept as a scalar would stop updating in place."""
    scalar, vector = Tensor(np.array(1.5), requires_grad=True), Tensor(np.array([1.5]), requires_grad=True)
    opt_s, opt_v = make([scalar]), make([vector])
    for _ in range(5):
        for p, opt in ((scalar, opt_s), (vector, opt_v)):
            opt.zero_grad()
            (p * p * 3.0 - p).sum().backward()
            opt.step()
        assert scalar.data.item() == vector.data.item()
    for key, value in opt_s.state[scalar].items():
        assert np.ndim(value) == 0 and np.asarray(value).item() == np.asarray(opt_v.state[vector][key]).item()
