"""Cross-checks against PyTorch, where it is installed (pip install torch==2.13.0)."""

import numpy as np
import pytest

from tinygrad_edu import Tensor, hvp, nn, optim
from tinygrad_edu.nn import functional as F
from tinygrad_edu.optim import lr_scheduler as S

torch = pytest.importorskip("torch", reason="PyTorch is optional; these tests compare against it")

W0 = np.random.default_rng(0).standard_normal((3, 4))


@pytest.mark.parametrize("name,options", [
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.3)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.99))),
])  # fmt: skip
def test_optimizers_follow_torch_optim(name, options):
    ours = Tensor(W0.copy(), requires_grad=True)
    theirs = torch.tensor(W0.copy(), requires_grad=True)
    opt_ours, opt_theirs = getattr(optim, name)([ours], **options), getattr(torch.optim, name)([theirs], **options)
    for _ in range(30):
        opt_ours.zero_grad()
        opt_theirs.zero_grad()
        ((ours**4).sum() - ours.sum()).backward()
        ((theirs**4).sum() - theirs.sum()).backward()
        opt_ours.step()
        opt_theirs.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


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
