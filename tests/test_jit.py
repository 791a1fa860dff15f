"""jit: a replayed training step is the eager step, bit for bit, and what cannot be
replayed is refused (at trace time) or caught (at the first replay)."""

from __future__ import annotations

import operator
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import JitError, Tensor, grad, jit, make_trace, nn, no_grad, optim
from tinygrad_edu import trainer as trainer_module
from tinygrad_edu.optim import lr_scheduler as S

OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.05),
    "sgd-nesterov-wd": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "momentum": lambda ps: optim.Momentum(ps, lr=0.02, momentum=0.9),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.05),
    "rms": lambda ps: optim.RMS(ps, lr=0.01),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.005, momentum=0.5, centered=True),
    "rmsprop-lecture": lambda ps: optim.RMSprop(ps, lr=0.005, alpha=0.9, lecture=True),
    "adam-amsgrad": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    "radam": lambda ps: optim.RAdam(ps, lr=0.01),
}
SCHEDULES = {
    "constant": lambda opt: None,
    "step": lambda opt: S.StepLR(opt, step_size=7, gamma=0.5),
    "warmup-cosine": lambda opt: S.WarmupLR(opt, 10, after=S.CosineAnnealingLR(opt, T_max=100)),
    "one-cycle": lambda opt: S.OneCycleLR(opt, max_lr=0.02, total_steps=130, cycle_momentum=False),
    "lambda": lambda opt: S.LambdaLR(opt, lambda t: 1 / (1 + 0.05 * t)),
}


def batches(steps=120, batch=16, seed=0):
    """A stream of (X, y) for 2 → 3 classification; every tenth batch is smaller (a shape change)."""
    rng = np.random.default_rng(seed)
    for t in range(steps):
        n = batch if t % 10 != 9 else 5
        X = rng.normal(size=(n, 2))
        yield X, (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 0] > 1)


def trainer(make_optimizer, make_schedule, scheduler_inside=True):
    model = nn.MLP([2, 8, 8, 3], activation="tanh", generator=np.random.default_rng(3))
    opt = make_optimizer(model.parameters())
    scheduler = make_schedule(opt)

    def step(X, y):
        loss = nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if scheduler is not None and scheduler_inside:
            scheduler.step()
        return loss

    return model, opt, scheduler, step


def same_state(a, b):
    """Two optimizers' state_dicts, equal bit for bit."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    return a == b


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_a_jitted_training_loop_is_the_eager_loop_bit_for_bit(optimizer, schedule):
    eager_model, eager_opt, _, eager_step = trainer(OPTIMIZERS[optimizer], SCHEDULES[schedule])
    jit_model, jit_opt, _, step = trainer(OPTIMIZERS[optimizer], SCHEDULES[schedule])
    jitted = jit(step)
    for X, y in batches():
        expected, got = eager_step(X, y), jitted(X, y)
        assert got.data.tobytes() == expected.data.tobytes()
    for a, b in zip(eager_model.parameters(), jit_model.parameters()):
        assert a.data.tobytes() == b.data.tobytes() and a.grad.data.tobytes() == b.grad.data.tobytes()
    assert same_state(eager_opt.state_dict(), jit_opt.state_dict())
    assert len(jitted.programs) == 2  # batches of 16 and of 5: two programs, each kept


def test_a_scheduler_stepped_outside_is_read_at_every_replay():
    eager_model, _, eager_scheduler, eager_step = trainer(OPTIMIZERS["adamw"], SCHEDULES["one-cycle"], False)
    jit_model, jit_opt, jit_scheduler, step = trainer(OPTIMIZERS["adamw"], SCHEDULES["one-cycle"], False)
    jitted = jit(step)
    for X, y in batches(100):
        eager_step(X, y)
        eager_scheduler.step()
        jitted(X, y)
        jit_scheduler.step()
    assert jit_opt.param_groups[0]["lr"] != jit_opt.param_groups[0]["initial_lr"]
    for a, b in zip(eager_model.parameters(), jit_model.parameters()):
        assert a.data.tobytes() == b.data.tobytes()


def test_the_trace_is_the_program_one_numpy_call_per_line():
    _, _, _, step = trainer(OPTIMIZERS["sgd"], SCHEDULES["constant"])
    X, y = next(batches())
    text = make_trace(step, X, y)
    lines = text.splitlines()
    assert lines[0] == "def replay(x0, x1):" and lines[-1].strip() == "return [b" + lines[-1].split("[b")[1]
    assert "Linear(x0, p0.data, p1.data)" in text and "CrossEntropy(" in text and "OneHot(x1" in text
    assert "np.matmul(" in text and "out=o" in text  # the backward's own calls, into buffers allocated once
    assert text.index("SGD_zero_grad()") < text.index("hand_gradient(") < text.index("SGD_step_flat()")
    assert all(line.count("=") <= 3 for line in lines[1:-1] if "hand_gradient" not in line)


def test_unused_buffers_are_dropped_and_outputs_can_be_structures():
    w = Tensor(np.ones(3), requires_grad=True, name="w")

    @jit
    def f(x, scale):
        unused = (x * 5).exp()  # noqa: F841  (nothing reads it: not in the program)
        y = (w * x).sum()
        return {"y": y, "both": (y * scale, x)}

    out = f(np.arange(3.0), 2.0)
    again = f(np.arange(3.0) + 1, 2.0)
    assert again["y"].item() == 1.0 + 2.0 + 3.0 and again["both"][0].item() == 12.0
    np.testing.assert_array_equal(again["both"][1].data, np.arange(3.0) + 1)
    assert out["y"].item() == 3.0
    text = f.trace(np.arange(3.0), 2.0)
    assert "Exp" not in text and "exp" not in text and f.trace() == text  # without arguments: all traced so far
    f(np.arange(3.0), 3.0)  # a Python argument is part of the key: a new program
    assert len(f.programs) == 2


def test_returned_tensors_are_copies_that_later_calls_do_not_change():
    w = Tensor(np.array([2.0]), requires_grad=True)
    f = jit(lambda x: (w * x).exp())
    f(np.array([1.0]))
    first = f(np.array([1.0]))
    f(np.array([3.0]))
    assert first.item() == np.exp(2.0)


@pytest.mark.parametrize(
    "body,message",
    [
        (lambda x, w: (w * x).sum().item(), r"t\.item\(\)"),
        (lambda x, w: (w * x) if (w * x).sum() > 0 else -(w * x), r"bool\(t\)"),
        (lambda x, w: w * Tensor.randn(3), "random numbers"),
        (lambda x, w: Tensor(np.zeros(3)).add_(x), "in-place"),
        (lambda x, w: operator.iadd(Tensor(np.zeros(3)), x), r"x \+= y .* on an argument or a tensor the function"),
        (lambda x, w: operator.isub(x, 1.0), r"x \+= y .* on an argument or a tensor the function"),
        (lambda x, w: grad((w * x).sum(), w)[0], r"loss\.backward\(\)"),
        (lambda x, w: (w * x).sum().backward(create_graph=True), "create_graph"),
        (lambda x, w: float(w.sum()), r"float\(t\)"),
    ],
)
def test_what_cannot_be_replayed_is_refused_while_tracing(body, message):
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(JitError, match=message):
        jit(lambda x: body(Tensor(x) if not isinstance(x, Tensor) else x, w))(np.ones(3))


def test_raw_numpy_the_trace_cannot_see_is_caught_at_the_first_replay_and_the_eager_result_kept():
    model = nn.Linear(2, 1, generator=np.random.default_rng(0))

    def manual_sgd(X, y):
        loss = nn.functional.mse_loss(model(X), y)
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad.data  # raw numpy: invisible to the trace
            p.grad = None
        return loss

    eager = nn.Linear(2, 1, generator=np.random.default_rng(0))
    step = jit(manual_sgd)
    X, y = np.ones((4, 2)), np.zeros((4, 1))
    step(X, y)
    with pytest.raises(JitError, match="differs from running the function"):
        step(X, y)
    for _ in range(2):  # the eager steps, by hand
        loss = nn.functional.mse_loss(eager(X), y)
        loss.backward()
        for p in eager.parameters():
            p.data -= 0.1 * p.grad.data
            p.grad = None
    for a, b in zip(model.parameters(), eager.parameters()):
        assert a.data.tobytes() == b.data.tobytes()


def test_a_value_baked_from_an_argument_is_caught_when_the_argument_changes():
    w = Tensor(np.ones(2), requires_grad=True)
    f = jit(lambda x: w * Tensor(x.data * 2))  # x.data read raw: the trace keeps the first call's values
    f(np.array([1.0, 2.0]))
    with pytest.raises(JitError, match="the returned values"):
        f(np.array([5.0, 6.0]))


def test_without_the_check_a_replay_runs_no_eager_step():
    calls = []
    w = Tensor(np.ones(2), requires_grad=True)

    def f(x):
        calls.append(1)
        return (w * x).sum()

    fast = jit(f, check=False)
    for _ in range(3):
        fast(np.ones(2))
    assert len(calls) == 1
    checked = jit(f)
    calls.clear()
    for _ in range(3):
        checked(np.ones(2))
    assert len(calls) == 2  # the trace, and the eager run beside the first replay


def zero_module(model, opt):
    model.zero_grad()  # p.grad = None for each parameter


def zero_each(model, opt):
    for p in model.parameters():
        p.grad = None


def clip_inside(model, opt):  # backward inside; then .grad read and assigned
    opt.zero_grad()
    loss = (model(Tensor(np.ones((4, 2)))) ** 2).mean()
    loss.backward()
    norm = sum((p.grad * p.grad).sum() for p in model.parameters()).sqrt()
    for p in model.parameters():
        p.grad = p.grad / (norm + 1.0)
    return norm


def accumulate_and_read(model, opt):  # .grad accumulates across calls: what is read changes
    (model(Tensor(np.ones((4, 2)))) ** 2).mean().backward()
    return sum((p.grad * p.grad).sum() for p in model.parameters())


def read_only(model, opt):  # .grad comes from a backward outside the jitted function
    return sum((p.grad * p.grad).sum() for p in model.parameters())


def returned_before_more_is_added(model, opt):  # the step's backward then adds to .grad: this one stays
    opt.zero_grad()
    (model(Tensor(np.ones((4, 2)))) ** 2).mean().backward()
    return model.parameters()[0].grad


def retained_intermediate(model, opt):  # a non-leaf's .grad (retain_grad), read and returned
    opt.zero_grad()
    hidden = model(Tensor(np.ones((4, 2))))
    hidden.retain_grad()
    (hidden**2).mean().backward()
    return hidden.grad


@pytest.mark.parametrize(
    "before",
    [zero_module, zero_each, clip_inside, accumulate_and_read, read_only, returned_before_more_is_added,
     retained_intermediate],
)  # fmt: skip
def test_gradients_assigned_or_read_inside_a_jitted_step_are_replayed_as_they_run(before):
    """``.grad = ...`` and reading ``.grad`` are part of the program: without the check (which would
    hide a wrong replay by raising), every replay is the eager step bit for bit; and the check
    passes."""

    def run(jitted):  # None: eager; else jit with check=jitted
        model = nn.MLP([2, 4, 1], generator=np.random.default_rng(0))
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(X):
            out = before(model, opt)
            loss = (model(X) ** 2).mean()
            loss.backward()
            opt.step()
            return loss if out is None else (loss, out)

        stepped = step if jitted is None else jit(step, check=jitted)
        results = []
        for t in range(4):
            if before is read_only:
                (model(Tensor(np.full((3, 2), t))) ** 2).sum().backward()
            results.append(stepped(np.full((3, 2), 0.5 + t)))
        values = [t.data.tobytes() for r in results for t in (r if isinstance(r, tuple) else (r,))]
        return values, [p.data.tobytes() for p in model.parameters()]

    eager = run(jitted=None)
    assert run(jitted=False) == eager
    assert run(jitted=True) == eager


def test_a_numpy_scalar_in_a_float32_step_acts_as_a_python_number_in_the_replay_too():
    """float32 * np.float64 scalar is float32 arithmetic (a numpy scalar is weak, as a Python
    float); a replay that kept the numpy scalar computed in float64 and rounded differently."""
    w = Tensor(np.linspace(0.1, 0.9, 4).astype(np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = ((w * x * np.sqrt(2.0)).tanh() * np.float64(0.3)).sum()
        loss.backward()
        opt.step()
        return loss

    stepped = jit(step)  # the first replay's check compares it with the eager step bit for bit
    for t in range(3):
        stepped(np.full(4, 0.3 + t, np.float32))
    assert "np.float64" not in stepped.trace()


def test_freezing_a_layer_after_the_first_replay_traces_the_step_again():
    """requires_grad decides which gradients the step computes: a program traced with the layer
    trainable would go on training it (the check of the first replay is long past)."""

    def run(use_jit):
        model = nn.MLP([2, 4, 1], generator=np.random.default_rng(0))
        opt = optim.SGD(model.parameters(), lr=0.1)
        first_layer = model.parameters()[:2]

        def step(X):
            opt.zero_grad()
            loss = (model(X) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        stepped = jit(step) if use_jit else step
        for t in range(8):
            if t in (4, 6):  # frozen for two steps, then trained again
                for p in first_layer:
                    p.requires_grad = t == 6
            stepped(np.full((3, 2), 0.5 + t))
        return [p.data.tobytes() for p in model.parameters()]

    assert run(use_jit=True) == run(use_jit=False)


@pytest.mark.parametrize(
    "pick",
    [lambda z, y: z[np.arange(4), y], lambda z, y: z.gather(1, y.reshape(4, 1)),
     lambda z, y: np.take_along_axis(z, y.reshape(4, 1), axis=1), lambda z, y: z[y],
     lambda z, y: -nn.functional.nll_loss(z, y, "none"), lambda z, y: -nn.functional.cross_entropy(z, y, "none")],
    ids=["getitem", "gather", "take_along_axis", "rows", "nll_loss", "cross_entropy_none"],
)  # fmt: skip
def test_an_index_passed_as_an_argument_is_read_at_every_replay(pick):
    """Labels picking one entry per row (a cross-entropy by hand): the index is part of an op's
    options, and was kept as the first call's labels.  nll_loss picked with the labels reshaped in
    numpy (a new array, which the trace kept), so its replays did too."""

    def run(jitted):
        model = nn.Linear(3, 4, generator=np.random.default_rng(0))
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(X, y):
            opt.zero_grad()
            loss = -pick(model(X).log_softmax(axis=1), y).mean()
            loss.backward()
            opt.step()
            return loss

        stepped = step if jitted is None else jit(step, check=jitted)
        rng = np.random.default_rng(1)
        losses = []
        for _ in range(4):
            X, y = rng.standard_normal((4, 3)), rng.integers(0, 4, 4)
            losses.append(stepped(Tensor(X), Tensor(y)).data.tobytes())
        return losses, [p.data.tobytes() for p in model.parameters()]

    eager = run(None)
    assert run(False) == eager and run(True) == eager


@pytest.mark.parametrize(
    "convert",
    [lambda X, w: Tensor(X), lambda X, w: Tensor(X, dtype=np.float32), lambda X, w: Tensor(X.data),
     lambda X, w: X * Tensor(w)[0]],
    ids=["Tensor(X)", "Tensor(X, dtype)", "Tensor(X.data)", "Tensor(parameter)"],
)  # fmt: skip
def test_a_tensor_made_from_an_argument_or_a_parameter_is_made_again_at_every_replay(convert):
    """Tensor(X) inside a step copies X: the copy of the first call's X was kept."""

    def run(jitted):
        model = nn.Linear(3, 1, generator=np.random.default_rng(0))
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(X):
            opt.zero_grad()
            loss = (model(convert(X, model.weight)) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        stepped = step if jitted is None else jit(step, check=jitted)
        rng = np.random.default_rng(1)
        return [stepped(Tensor(rng.standard_normal((4, 3)))).data.tobytes() for _ in range(4)]

    eager = run(None)
    assert run(False) == eager and run(True) == eager


def test_a_boolean_mask_of_the_program_is_refused_as_an_index():
    w = Tensor(np.ones(4), requires_grad=True)
    with pytest.raises(JitError, match="boolean mask"):
        jit(lambda x: (w * x)[x > 0].sum())(np.array([1.0, -1.0, 2.0, -2.0]))
    mask = np.array([True, False, True, True])  # a constant mask keeps its shape: replayed
    f = jit(lambda x: (w * x)[mask].sum())
    assert [f(np.full(4, float(t))).item() for t in range(3)] == [0.0, 3.0, 6.0]


def test_an_argument_that_requires_grad_is_refused_gradients_and_keys_its_own_program():
    w = Tensor(np.ones(2), requires_grad=True)

    def f(x):
        loss = (w * x * x).sum()
        loss.backward()
        return loss

    g = jit(f)
    with pytest.raises(JitError, match="not to its arguments"):
        g(Tensor(np.ones(2), requires_grad=True))
    g(Tensor(np.ones(2)))
    g(np.ones(2))
    assert len(g.programs) == 1  # a Tensor that does not require grad is traced as an array


def test_a_jitted_step_under_no_grad_does_what_the_eager_step_does():
    model = nn.Linear(2, 1, generator=np.random.default_rng(0))

    def step(X):
        loss = model(X).sum()
        loss.backward()
        return loss

    stepped = jit(step)
    for _ in range(2):  # traced, and checked
        stepped(np.ones((3, 2)))
    with no_grad(), pytest.raises(RuntimeError, match="does not require grad"):
        stepped(np.ones((3, 2)))


@pytest.mark.parametrize("optimizer", trainer_module.OPTIMIZERS)
def test_every_optimizer_and_schedule_of_train_gives_the_same_run_with_jit(optimizer):
    for schedule in trainer_module.SCHEDULES:
        runs = []
        for jitted in (False, True):
            config = trainer_module.TrainConfig(dataset="moons", hidden=[8], optimizer=optimizer, schedule=schedule,
                                                warmup_steps=5, batch_size=50, epochs=2)  # fmt: skip
            run = trainer_module.Run.create(config)
            run.train(progress=False, jit=jitted)
            runs.append(run)
        eager, jit_run = runs
        assert eager.history == jit_run.history, schedule
        for a, b in zip(eager.model.parameters(), jit_run.model.parameters()):
            assert a.data.tobytes() == b.data.tobytes(), schedule
        assert same_state(eager.optimizer.state_dict(), jit_run.optimizer.state_dict()), schedule


def test_class_indices_are_checked_at_every_replay_not_only_when_traced():
    _, _, _, step = trainer(OPTIMIZERS["sgd"], SCHEDULES["constant"])
    jitted = jit(step)
    X, y = next(batches())
    jitted(X, y)
    jitted(X, y)
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 3\), got -1"):
        jitted(X, np.where(y == 2, -1, y))  # a negative index would silently pick the last class


def test_trace_without_arguments_needs_a_call_first():
    f = jit(lambda x: x * 2)
    with pytest.raises(JitError, match="nothing is traced yet"):
        f.trace()
    f(np.ones(2))
    f(np.ones(3))
    assert f.trace().count("def replay(x0):") == 2


def test_keyword_arguments_are_arguments_too():
    w = Tensor(np.ones(2), requires_grad=True)
    f = jit(lambda x, scale=1.0, shift=None: w * x * scale + (0 if shift is None else shift))
    np.testing.assert_array_equal(f(np.ones(2), shift=np.full(2, 3.0)).data, [4.0, 4.0])
    np.testing.assert_array_equal(f(np.ones(2), shift=np.full(2, 5.0)).data, [6.0, 6.0])  # an array: an input
    np.testing.assert_array_equal(f(np.ones(2), scale=2.0).data, [2.0, 2.0])  # another keyword: another program
    np.testing.assert_array_equal(f(np.ones(2), scale=3.0).data, [3.0, 3.0])  # a Python value: part of the key
    assert len(f.programs) == 3 and "x1" in f.trace(np.ones(2), shift=np.ones(2))


def test_a_function_that_returns_something_else_than_tensors_is_refused():
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(JitError, match=r"returns Tensors \(or tuples, lists, dicts of them\); got <class 'float'>"):
        jit(lambda x: {"loss": (w * x).sum(), "scale": 2.0})(np.ones(2))


def test_derivatives_other_than_backward_are_refused_inside_a_jitted_function():
    from tinygrad_edu import jvp, make_hvp

    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(JitError, match=r"jvp\(\) or an HVP inside a jitted function"):
        jit(lambda x: jvp(lambda t: t * w, (x,), (x,))[1])(np.ones(3))
    hvp_fn = make_hvp(lambda t: (t * t * t).sum(), np.ones(3))[2]
    hvp_fn(np.ones(3)), hvp_fn(np.ones(3))  # the second call compiled its sweep: replays need no Tensor at all
    with pytest.raises(JitError, match="an HVP inside a jitted function"):
        jit(lambda x: hvp_fn(x))(np.ones(3))


def test_the_legend_summarises_large_constants():
    text = make_trace(lambda x: x * np.arange(9.0).reshape(3, 3) + np.array([0.5, 1.5]).sum(), np.ones((3, 3)))
    assert "a constant of the trace, an array (3, 3) float64" in text


def test_a_constant_boolean_mask_becomes_floats_with_the_same_products_bit_for_bit():
    from tinygrad_edu.jit import Line, float_masks

    x = np.array([-1.0, 2.0, np.inf, np.nan, -0.0, -3.0], dtype=np.float32)
    mask = np.array([True, False, False, True, False, False])
    with np.errstate(invalid="ignore"):
        examples = [x, np.multiply(x, mask)]
    lines = float_masks([Line(np.multiply, "multiply", (("b", 0), ("c", mask)), outs=(1,), reads=(0,))], examples)
    kind, cast = lines[0].args[1]
    assert kind == "c" and cast.dtype == np.float32 and np.array_equal(cast, mask)
    with np.errstate(invalid="ignore"):
        product = np.multiply(x, cast)
    np.testing.assert_array_equal(product, examples[1])  # inf·0 = nan, nan·1 = nan
    np.testing.assert_array_equal(np.signbit(product), np.signbit(examples[1]))  # −1·0 = −0 both ways
    untouched = Line(np.add, "add", (("b", 0), ("c", mask)), outs=(1,), reads=(0,))
    assert float_masks([untouched], examples)[0].args[1][1] is mask  # only products: x + True is not x + 1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_hand_written_sgd_step_on_the_parameters_replays_bit_for_bit(dtype):
    """``p -= lr * p.grad`` under no_grad() (micrograd's and PyTorch tutorials' update) is a line of
    the program that writes into the parameter, at its place among the others."""

    def run(jitted):
        model = nn.MLP([3, 5, 2], dtype=dtype, generator=np.random.default_rng(0))

        def step(X, y):
            model.zero_grad()
            loss = nn.functional.cross_entropy(model(X), y)
            loss.backward()
            with no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
                    p *= 0.999  # weight decay, by hand
            return loss

        stepped = step if jitted is None else jit(step, check=jitted)
        rng = np.random.default_rng(1)
        losses = []
        for t in range(6):
            X, y = rng.standard_normal((4 + t % 2, 3)).astype(dtype), rng.integers(0, 2, 4 + t % 2)
            losses.append(stepped(Tensor(X) if jitted is None else X, y).data.tobytes())
        return losses, [p.data.tobytes() for p in model.parameters()]

    eager = run(None)
    assert run(False) == eager and run(True) == eager
    assert len(set(eager[0])) == 6  # it trains


PATTERNS = ["zero_module", "tensor_copy", "numpy_scalar", "label_index", "argmax_index", "cross_entropy", "nll_loss",
            "normalize", "retain_grad", "clip_grads", "return_grad", "two_backwards", "freeze", "schedule",
            "float32"]  # fmt: skip


@settings(max_examples=int(os.environ.get("JIT_PATTERNS", 30)), deadline=None)
@given(patterns=st.sets(st.sampled_from(PATTERNS)), seed=st.integers(0, 1000))
def test_what_users_write_in_a_training_step_replays_bit_for_bit_in_any_combination(patterns, seed):
    """Each pattern was once replayed wrong (or refused) on its own; together, across batch sizes
    and with a layer frozen halfway, the jitted run is the eager run, with and without the check."""
    dtype = np.float32 if "float32" in patterns else np.float64

    def run(jitted):
        model = nn.MLP([3, 6, 4], generator=np.random.default_rng(seed))
        for p in model.parameters():
            p.data = p.data.astype(dtype)
        opt = optim.Adam(model.parameters(), lr=0.01)
        schedule = S.StepLR(opt, step_size=2, gamma=0.5) if "schedule" in patterns else None

        def step(X, y):
            model.zero_grad() if "zero_module" in patterns else opt.zero_grad()
            h = model(Tensor(X) if "tensor_copy" in patterns else X)
            if "numpy_scalar" in patterns:
                h = h * np.sqrt(np.float64(2.0))
            if "normalize" in patterns:  # by each row's spread, as a layer norm does
                h = (h - h.mean(axis=1, keepdims=True)) / (h.std(axis=1, keepdims=True) + 1e-5)
            if "retain_grad" in patterns:
                h.retain_grad()
            rows = np.arange(X.shape[0])
            if "cross_entropy" in patterns:
                loss = nn.functional.cross_entropy(h, y)
            elif "nll_loss" in patterns:
                loss = nn.functional.nll_loss(h.log_softmax(axis=1), y)
            elif "label_index" in patterns:
                loss = -h.log_softmax(axis=1)[rows, y].mean()
            elif "argmax_index" in patterns:
                loss = (h[rows, h.argmax(axis=1)] ** 2).mean()
            else:
                loss = (h**2).mean()
            if "two_backwards" in patterns:
                loss.backward(retain_graph=True)
            loss.backward()
            out = [loss]
            if "clip_grads" in patterns:
                trained = [p for p in model.parameters() if p.grad is not None]
                norm = sum((p.grad * p.grad).sum() for p in trained).sqrt()
                for p in trained:
                    p.grad = p.grad / (norm + 1.0)
                out.append(norm)
            if "return_grad" in patterns:
                out.append(model.parameters()[-1].grad)
            if "retain_grad" in patterns:
                out.append(h.grad)
            opt.step()
            if schedule is not None:
                schedule.step()
            return tuple(out)

        stepped = step if jitted is None else jit(step, check=jitted)
        rng = np.random.default_rng(seed + 1)
        results = []
        for t in range(6):
            if "freeze" in patterns and t == 3:
                for p in model.parameters()[:2]:
                    p.requires_grad = False
            X, y = rng.standard_normal((4 + t % 2, 3)).astype(dtype), rng.integers(0, 4, 4 + t % 2)
            results.append([r.data.tobytes() for r in stepped(Tensor(X) if jitted is None else X, y)])
        return results, [p.data.tobytes() for p in model.parameters()]

    eager = run(None)
    assert run(False) == eager
    assert run(True) == eager
