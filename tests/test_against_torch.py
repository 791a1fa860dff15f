"""Cross-checks against PyTorch, where it is installed (pip install torch==2.13.0)."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu
from tinygrad_edu import Tensor, hvp, nn, optim
from tinygrad_edu.nn import functional as F
from tinygrad_edu.optim import lr_scheduler as S

torch = pytest.importorskip("torch", reason="PyTorch is optional; these tests compare against it")
# torch.func calls PyTorch's own torch.jit.script, which PyTorch 2.13 reports as deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

W0 = np.random.default_rng(0).standard_normal((3, 4))


@pytest.mark.parametrize("name,options", [
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.3)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.99))),
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, decoupled_weight_decay=True)),
])  # fmt: skip
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-6)])
def test_optimizers_follow_torch_optim(name, options, dtype, rtol):
    ours = Tensor(W0.astype(dtype), requires_grad=True)
    theirs = torch.tensor(W0.astype(dtype), requires_grad=True)
    opt_ours, opt_theirs = getattr(optim, name)([ours], **options), getattr(torch.optim, name)([theirs], **options)
    for _ in range(30):
        opt_ours.zero_grad()
        opt_theirs.zero_grad()
        ((ours**4).sum() - ours.sum()).backward()
        ((theirs**4).sum() - theirs.sum()).backward()
        opt_ours.step()
        opt_theirs.step()
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=rtol, atol=rtol / 100)


OPTIONS = {
    "SGD": dict(lr=[0.01, 0.03], momentum=[0, 0.9], dampening=[0, 0.3], nesterov=[False, True], weight_decay=[0, 0.1]),
    "Adagrad": dict(lr=[0.01, 0.1], lr_decay=[0, 0.01], weight_decay=[0, 0.1], initial_accumulator_value=[0, 0.1]),
    "RMSprop": dict(lr=[0.01], alpha=[0.99, 0.5], eps=[1e-8, 1e-3], weight_decay=[0, 0.1], momentum=[0, 0.5],
                    centered=[False, True]),
    "Adam": dict(lr=[0.01], betas=[(0.9, 0.999), (0.5, 0.9)], eps=[1e-8, 1e-3], weight_decay=[0, 0.1],
                 amsgrad=[False, True]),
    "AdamW": dict(lr=[0.01], betas=[(0.9, 0.999), (0.5, 0.9)], weight_decay=[0, 0.1], amsgrad=[False, True]),
    "RAdam": dict(lr=[0.01], betas=[(0.9, 0.999), (0.5, 0.9)], weight_decay=[0, 0.1],
                  decoupled_weight_decay=[False, True]),
}  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_training_with_groups_missing_gradients_schedules_and_a_resume_follows_torch(data):
    """Any optimizer and options, two parameter groups, a parameter that has no gradient on some
    steps, a schedule, and a resume halfway through nn.save / nn.load: the run is PyTorch's."""
    name = data.draw(st.sampled_from(sorted(OPTIONS)))
    options = {key: data.draw(st.sampled_from(values)) for key, values in OPTIONS[name].items()}
    if name == "SGD" and (options["momentum"] == 0 or options["dampening"] != 0):
        options["nesterov"] = False
    schedule = data.draw(st.sampled_from([None, ("StepLR", dict(step_size=3, gamma=0.5)),
                                          ("CosineAnnealingLR", dict(T_max=10))]))  # fmt: skip
    skips = data.draw(st.lists(st.booleans(), min_size=12, max_size=12))
    resume_at = data.draw(st.integers(1, 10))
    W = [np.random.default_rng(0).standard_normal((3, 2)), np.random.default_rng(1).standard_normal(4)]

    def make(module, params):
        opt = getattr(module.optim, name)([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.003}], **options)
        scheduler = None if schedule is None else getattr(module.optim.lr_scheduler, schedule[0])(opt, **schedule[1])
        return opt, scheduler

    ours = [Tensor(w.copy(), requires_grad=True) for w in W]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in W]
    (opt, sched), (t_opt, t_sched) = make(tinygrad_edu, ours), make(torch, theirs)
    for step, skip in enumerate(skips):
        for o, (a, b) in ((opt, ours), (t_opt, theirs)):
            o.zero_grad()
            loss = (a**4).sum() - a.sum() + (0 if skip else (b * b * 0.5).sum() * a.sum())
            loss.backward()
            o.step()
        for scheduler in (sched, t_sched):
            if scheduler is not None:
                scheduler.step()
        if step == resume_at:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "state.npz"
                nn.save({"opt": opt.state_dict(), "sched": sched.state_dict() if sched else {}}, path)
                saved = nn.load(path)
            opt, sched = make(tinygrad_edu, ours)
            opt.load_state_dict(saved["opt"])
            if sched is not None:
                sched.load_state_dict(saved["sched"])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,options", [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 20], gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.95)),
    ("CosineAnnealingLR", dict(T_max=20, eta_min=0.001)),
    ("LinearLR", dict(start_factor=0.2, total_iters=10)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=60)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=60, three_phase=True, anneal_strategy="linear")),
])  # fmt: skip
def test_schedules_follow_torch(name, options):
    ours_opt = optim.SGD([Tensor(np.ones(2), requires_grad=True)], lr=0.1, momentum=0.9)
    theirs_opt = torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=0.1, momentum=0.9)
    ours, theirs = getattr(S, name)(ours_opt, **options), getattr(torch.optim.lr_scheduler, name)(theirs_opt, **options)
    for _ in range(60):
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-9, abs=1e-15)
        if name == "OneCycleLR":
            assert ours_opt.param_groups[0]["momentum"] == pytest.approx(theirs_opt.param_groups[0]["momentum"])
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()


@pytest.mark.parametrize("chain", [
    [("ExponentialLR", dict(gamma=0.9)), ("StepLR", dict(step_size=3, gamma=0.1))],
    [("LinearLR", dict(start_factor=0.1, total_iters=4)), ("ExponentialLR", dict(gamma=0.95))],
    [("MultiStepLR", dict(milestones=[2, 5], gamma=0.5)), ("LinearLR", dict(start_factor=0.5, total_iters=6)),
     ("ExponentialLR", dict(gamma=0.97))],
    [("CosineAnnealingLR", dict(T_max=12, eta_min=0.01)), ("StepLR", dict(step_size=4, gamma=0.5))],
])  # fmt: skip
def test_schedulers_stepped_together_chain_as_in_torch(chain):
    """Two schedulers on one optimizer compose (PyTorch's chainable schedulers); each overwrote the
    lr with its own schedule, so only the last one stepped counted.  Resuming halfway from
    state_dicts continues the chain."""

    def build(module, opt):
        return [getattr(module, name)(opt, **options) for name, options in chain]

    ours_opt = optim.SGD([{"params": [Tensor(np.ones(2), requires_grad=True)]},
                          {"params": [Tensor(np.ones(1), requires_grad=True)], "lr": 0.3}], lr=1.0)  # fmt: skip
    theirs_opt = torch.optim.SGD([{"params": [torch.ones(2, requires_grad=True)]},
                                  {"params": [torch.ones(1, requires_grad=True)], "lr": 0.3}], lr=1.0)  # fmt: skip
    ours, theirs = build(S, ours_opt), build(torch.optim.lr_scheduler, theirs_opt)
    for t in range(12):
        assert [g["lr"] for g in ours_opt.param_groups] == pytest.approx(
            [g["lr"] for g in theirs_opt.param_groups], rel=1e-12
        )
        if t == 6:  # resume into new objects
            saved = ours_opt.state_dict(), [s.state_dict() for s in ours]
            ours_opt = optim.SGD([{"params": [Tensor(np.ones(2), requires_grad=True)]},
                                  {"params": [Tensor(np.ones(1), requires_grad=True)], "lr": 0.3}], lr=1.0)  # fmt: skip
            ours = build(S, ours_opt)
            ours_opt.load_state_dict(saved[0])
            for scheduler, state in zip(ours, saved[1]):
                scheduler.load_state_dict(state)
        ours_opt.step()
        theirs_opt.step()
        for a, b in zip(ours, theirs):
            a.step()
            b.step()


def test_sequential_and_lambda_schedules_follow_torch():
    """Schedules built from schedules: SequentialLR hands over at its milestones as PyTorch's does."""

    def build(lib, opt):
        return lib.SequentialLR(opt, [lib.ExponentialLR(opt, gamma=0.9), lib.LambdaLR(opt, lambda t: 1 / (1 + t)),
                                      lib.LinearLR(opt, 0.5, total_iters=5)], milestones=[5, 9])  # fmt: skip

    ours_opt = optim.SGD([Tensor(np.ones(2), requires_grad=True)], lr=0.5)
    theirs_opt = torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=0.5)
    ours, theirs = build(S, ours_opt), build(torch.optim.lr_scheduler, theirs_opt)
    for _ in range(20):
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-12, abs=1e-15)
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()


def test_mlp_gradients_and_hvp_match_torch():
    rng = np.random.default_rng(1)
    model = nn.MLP([4, 8, 3], generator=rng)
    X, y = rng.standard_normal((10, 4)), rng.integers(0, 3, 10)
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    params = [torch.tensor(p.data.copy(), requires_grad=True) for p in model.parameters()]

    def torch_loss(w1, b1, w2, b2):
        h = torch.relu(torch.from_numpy(X) @ w1.T + b1)
        return torch.nn.functional.cross_entropy(h @ w2.T + b2, torch.from_numpy(y))

    reference = torch_loss(*params)
    reference.backward()
    assert loss.item() == pytest.approx(reference.item(), rel=1e-12)
    for p, q in zip(model.parameters(), params):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10, atol=1e-14)
    v = tuple(rng.standard_normal(p.shape) for p in model.parameters())

    def our_loss(w1, b1, w2, b2):
        return F.cross_entropy(F.linear(F.linear(X, w1, b1).relu(), w2, b2), y)

    _, ours = hvp(our_loss, tuple(p.data for p in model.parameters()), v)
    _, theirs = torch.autograd.functional.hvp(
        torch_loss, tuple(q.detach() for q in params), tuple(torch.from_numpy(x) for x in v)
    )
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-9, atol=1e-12)


def test_parameter_names_and_order_follow_torch_for_lists_and_dicts_of_modules():
    """A list is named as a ModuleList, a dict as a ModuleDict; own parameters come first."""

    def build(nn_module, parameter, linear, module_list, module_dict):
        class Net(nn_module):
            def __init__(self):
                super().__init__()
                self.head = linear(3, 1)
                self.blocks = module_list([linear(3, 3), linear(3, 3)])
                self.heads = module_dict({"a": linear(3, 2)})
                self.scale = parameter(np.ones(1))

        return [name for name, _ in Net().named_parameters()]

    ours = build(nn.Module, nn.Parameter, nn.Linear, list, dict)
    assert ours == build(nn.Module, nn.Parameter, nn.Linear, nn.ModuleList, dict)
    assert ours == build(torch.nn.Module, lambda a: torch.nn.Parameter(torch.from_numpy(a)), torch.nn.Linear,
                         torch.nn.ModuleList, torch.nn.ModuleDict)  # fmt: skip


TF = None  # torch.nn.functional, bound below when torch is there
OPS_VS_TORCH = {  # name: (ours, torch's) on tensors of the same values; both are differentiated twice
    "square": (lambda t: t.square(), lambda t: t.square()),
    "sin_cos_tan": (lambda t: t.sin() * t.cos() + (t * 0.3).tan(), lambda t: t.sin() * t.cos() + (t * 0.3).tan()),
    "log1p_expm1": (lambda t: t.abs().log1p() + t.expm1(), lambda t: t.abs().log1p() + t.expm1()),
    "log2_log10_exp2": (lambda t: t.abs().log2() + t.abs().log10() + t.exp2(),
                        lambda t: t.abs().log2() + t.abs().log10() + t.exp2()),
    "maximum_minimum": (lambda t: np.maximum(t, t[0]) * np.minimum(t, 0.2),
                        lambda t: torch.maximum(t, t[0]) * torch.minimum(t, torch.tensor(0.2, dtype=t.dtype))),
    "logaddexp": (lambda t: np.logaddexp(t, t * t), lambda t: torch.logaddexp(t, t * t)),
    "remainder": (lambda t: (t * t) % 0.7, lambda t: torch.remainder(t * t, 0.7)),
    "prod": (lambda t: t.prod(axis=1), lambda t: t.prod(dim=1)),
    "logsumexp": (lambda t: t.logsumexp(axis=0), lambda t: t.logsumexp(dim=0)),
    "cumsum": (lambda t: np.cumsum(t * t, axis=1), lambda t: torch.cumsum(t * t, dim=1)),
    "std_var": (lambda t: t.std(axis=1, ddof=1) + t.var(), lambda t: t.std(dim=1) + t.var(unbiased=False)),
    "pad_flip_roll": (lambda t: np.roll(np.pad(t, 1), 1, axis=0).flip(1) ** 2,
                      lambda t: torch.roll(TF.pad(t, (1, 1, 1, 1)), 1, dims=0).flip(1) ** 2),
    "tile_repeat": (lambda t: np.tile(t, (2, 1)) * t.repeat(1, axis=0).sum(),
                    lambda t: t.repeat(2, 1) * t.sum()),
    "gather": (lambda t: t.gather(1, np.array([[0, 0, 2], [1, 2, 2], [3, 1, 0]])) ** 2,
               lambda t: t.gather(1, torch.tensor([[0, 0, 2], [1, 2, 2], [3, 1, 0]])) ** 2),
    "tril_triu_outer": (lambda t: t.tril().sum() * t.triu(1) + np.outer(t[0], t[1])[:3],
                        lambda t: t.tril().sum() * t.triu(1) + torch.outer(t[0], t[1])[:3]),
    "activations": (lambda t: F.leaky_relu(t) + F.elu(t) + F.softplus(t) + F.silu(t) + F.gelu(t),
                    lambda t: TF.leaky_relu(t) + TF.elu(t) + TF.softplus(t) + TF.silu(t)
                    + TF.gelu(t, approximate="tanh")),
    "zero_gradient_ops": (lambda t: t * (t.floor() + t.ceil() + t.round() + t.trunc() + t.sign() + t // 0.3),
                          lambda t: t * (t.floor() + t.ceil() + t.round() + t.trunc() + t.sign()
                                         + torch.div(t, 0.3, rounding_mode="floor"))),
    "where_masked_fill": (lambda t: np.where(t.data > 0, t * t, -t).masked_fill(t.data < -1, 2.0),
                          lambda t: torch.where(t > 0, t * t, -t).masked_fill(t < -1, 2.0)),
    "tensordot_flatten": (lambda t: np.tensordot(t, t * t, axes=([1], [1])).flatten(0) ** 2,
                          lambda t: torch.tensordot(t, t * t, dims=([1], [1])).flatten(0) ** 2),
    "split_chunk": (lambda t: t.split(3, axis=1)[1] * t.chunk(2, axis=1)[0][:, :1],
                    lambda t: t.split(3, dim=1)[1] * t.chunk(2, dim=1)[0][:, :1]),
    "nll_loss": (lambda t: F.nll_loss(t.log_softmax(axis=-1), np.array([0, 3, 1]), "none"),
                 lambda t: TF.nll_loss(t.log_softmax(dim=-1), torch.tensor([0, 3, 1]), reduction="none")),
}  # fmt: skip


@pytest.mark.parametrize("name", list(OPS_VS_TORCH))
def test_new_ops_match_pytorch_in_value_gradient_and_second_derivative(name):
    global TF
    TF = torch.nn.functional
    ours_f, torch_f = OPS_VS_TORCH[name]
    x0 = np.random.default_rng(11).uniform(-1.5, 1.5, (3, 4))
    v = np.random.default_rng(12).standard_normal(ours_f(Tensor(x0)).shape)
    x = Tensor(x0, requires_grad=True)
    (g,) = grad_of((ours_f(x) * v).sum(), x)
    (hv,) = grad_of((g * g).sum(), x, plain=True)
    t = torch.tensor(x0, requires_grad=True)
    (tg,) = torch.autograd.grad((torch_f(t) * torch.tensor(v)).sum(), t, create_graph=True)
    (thv,) = torch.autograd.grad((tg * tg).sum(), t)
    np.testing.assert_allclose(ours_f(Tensor(x0)).data, torch_f(torch.tensor(x0)).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(hv.data, thv.numpy(), rtol=1e-9, atol=1e-10)


def grad_of(out, x, plain=False):
    from tinygrad_edu import grad

    return grad(out, x, create_graph=not plain)


def test_jvp_and_forward_jacobian_follow_torch_func():
    from tinygrad_edu import jacobian, jvp

    def ours(x, w):
        return (x @ w).tanh().sum(axis=0) * x.exp().mean()

    def theirs(x, w):
        return (x @ w).tanh().sum(dim=0) * x.exp().mean()

    rng = np.random.default_rng(13)
    x, w, dx, dw = (
        rng.standard_normal((3, 4)),
        rng.standard_normal((4, 2)),
        rng.standard_normal((3, 4)),
        rng.standard_normal((4, 2)),
    )
    out, tangent = jvp(ours, (x, w), (dx, dw))
    t_out, t_tangent = torch.func.jvp(theirs, (torch.tensor(x), torch.tensor(w)), (torch.tensor(dx), torch.tensor(dw)))
    np.testing.assert_allclose(out.data, t_out.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tangent.data, t_tangent.numpy(), rtol=1e-10)
    for a, b in zip(jacobian(ours, (x, w), mode="forward"),
                    torch.autograd.functional.jacobian(theirs, (torch.tensor(x), torch.tensor(w)))):  # fmt: skip
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-10, atol=1e-12)
