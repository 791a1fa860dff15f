"""nn: modules, layers, losses, init, and training on real data."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn, optim
from tinygrad_edu.autograd import gradcheck, gradgradcheck
from tinygrad_edu.data import DataLoader, datasets
from tinygrad_edu.nn import functional as F


def test_parameter_counting_and_names():
    model = nn.MLP([2, 16, 16, 1])
    assert model.num_parameters() == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1)
    assert [n for n, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias",
    ]  # fmt: skip
    assert model[0].weight.shape == (16, 2)  # PyTorch's (out_features, in_features)
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())


def test_nested_modules_register_by_attribute():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
            self.head = nn.Linear(4, 2, bias=False)

        def forward(self, x):
            return self.head(self.body(x))

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["body.0.weight", "body.0.bias", "head.weight"]
    assert net(np.ones((5, 3))).shape == (5, 2)
    assert "(head): Linear(in_features=4, out_features=2, bias=False)" in repr(net)
    net.eval()
    assert not net.training and not net.body[0].training
    net.train()
    assert net.body[1].training


def test_linear_is_x_times_weight_transposed_plus_bias():
    layer = nn.Linear(3, 2)
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T + layer.bias.data)
    bound = 1 / np.sqrt(3)
    assert np.all(np.abs(layer.weight.data) <= bound) and np.all(np.abs(layer.bias.data) <= bound)


def test_linear_refuses_wrong_feature_count():
    with pytest.raises(ValueError, match=r"Linear of shapes .*input of shape \(4, 5\) has 5 features .* expects 3"):
        nn.Linear(3, 2)(np.ones((4, 5)))


def test_state_dict_round_trip_and_errors_name_the_key():
    a, b = nn.MLP([2, 4, 1]), nn.MLP([2, 4, 1])
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    state = a.state_dict()
    with pytest.raises(KeyError, match=r"missing keys \['2.bias'\]"):
        b.load_state_dict({k: v for k, v in state.items() if k != "2.bias"})
    with pytest.raises(KeyError, match=r"unexpected keys \['extra'\]"):
        b.load_state_dict({**state, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"'0.weight'\] has shape \(3, 2\) but the parameter has shape \(4, 2\)"):
        b.load_state_dict({**state, "0.weight": np.zeros((3, 2))})


def test_init_functions_follow_their_formulas():
    rng = np.random.default_rng(0)
    w = Tensor(np.empty((200, 300)))
    nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=rng)
    bound = np.sqrt(2) * np.sqrt(3 / 300)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.95 * bound
    nn.init.xavier_uniform_(w, generator=rng)
    bound = np.sqrt(6 / 500)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.95 * bound
    nn.init.normal_(w, 0.0, 2.0, generator=rng)
    assert abs(w.data.std() - 2.0) < 0.05
    nn.init.zeros_(w)
    assert not w.data.any()
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(Tensor(np.ones(3)))


def test_seeded_construction_is_reproducible():
    a = nn.MLP([3, 5, 2], generator=np.random.default_rng(7))
    b = nn.MLP([3, 5, 2], generator=np.random.default_rng(7))
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_mse_loss_equals_its_formula():
    rng = np.random.default_rng(1)
    x, y = Tensor(rng.standard_normal((5, 2)), requires_grad=True), rng.standard_normal((5, 2))
    assert F.mse_loss(x, y).item() == pytest.approx(np.mean((x.data - y) ** 2))
    assert nn.MSELoss(reduction="sum")(x, y).item() == pytest.approx(np.sum((x.data - y) ** 2))
    assert gradcheck(lambda t: F.mse_loss(t, y), (x,)) and gradgradcheck(lambda t: F.mse_loss(t, y), (x,))
    with pytest.raises(ValueError, match=r"input shape \(5, 2\) and target shape \(5,\)"):
        F.mse_loss(x, np.ones(5))


def test_cross_entropy_equals_its_formula_and_its_gradients_check():
    rng = np.random.default_rng(2)
    logits = Tensor(rng.standard_normal((6, 4)), requires_grad=True)
    target = rng.integers(0, 4, 6)
    z = logits.data
    expected = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(6), target])
    assert F.cross_entropy(logits, target).item() == pytest.approx(expected)
    assert nn.CrossEntropyLoss()(logits, Tensor(target)).item() == pytest.approx(expected)
    assert gradcheck(lambda t: F.cross_entropy(t, target), (logits,))
    assert gradgradcheck(lambda t: F.cross_entropy(t, target), (logits,))


def test_losses_stay_finite_for_huge_logits():
    logits = Tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 1]))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(1e4)
    assert np.all(np.isfinite(logits.grad.data))
    big = Tensor([1e4, -1e4], requires_grad=True)
    assert np.isfinite(F.mse_loss(big, np.zeros(2)).item())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_and_nll_loss_with_masked_classes_are_the_losses_over_the_others(reduction):
    """A logit of −∞ masks its class out (softmax gives it 0): the loss is the loss over the other
    classes, not nan (−∞ times its 0 in the one-hot targets), and so is its gradient."""
    rng = np.random.default_rng(3)
    logits, target = rng.standard_normal((3, 4)), np.array([0, 3, 2])
    masked = np.array([[False, True, False, True], [True, False, False, False], [False] * 4])
    z = Tensor(logits, requires_grad=True)
    losses = {
        "cross_entropy": F.cross_entropy(z.masked_fill(masked, -np.inf), target, reduction),
        "nll_loss": F.nll_loss(z.masked_fill(masked, -np.inf).log_softmax(axis=-1), target, reduction),
    }
    for name, loss in losses.items():
        kept = np.where(masked, -np.inf, logits)
        rows = -(kept[np.arange(3), target] - np.log(np.exp(kept).sum(axis=1)))
        expected = {"mean": rows.mean(), "sum": rows.sum(), "none": rows}[reduction]
        np.testing.assert_allclose(loss.data, expected, rtol=1e-12, err_msg=name)
        (g,) = tg.grad(loss.sum(), z)
        p = np.exp(kept) / np.exp(kept).sum(axis=1, keepdims=True)
        scale = 1 / 3 if reduction == "mean" else 1.0
        np.testing.assert_allclose(g.data, (p - np.eye(4)[target]) * scale, rtol=1e-12, atol=1e-15, err_msg=name)


def test_cross_entropy_refuses_bad_targets():
    logits = Tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"cross_entropy: class indices must lie in \[0, 4\)"):
        F.cross_entropy(logits, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"targets of shape \(3,\)"):
        F.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 1, 2]), reduction="avg")


def gradient_descent(model, X, y, steps, lr, batch_size=None, seed=0):
    """Plain (mini-batch) gradient descent: θ ← θ − η·g."""
    batches = DataLoader(X, y, batch_size or len(X), seed=seed)
    for _ in range(steps):
        for xb, yb in batches:
            model.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            for p in model.parameters():
                p.data -= lr * p.grad.data


def accuracy(model, X, y):
    with tg.no_grad():
        return float((model(X).data.argmax(axis=1) == y).mean())


def test_two_layer_mlp_fits_moons_with_plain_gradient_descent():
    X, y = datasets.moons(200, noise=0.1, seed=0)
    model = nn.MLP([2, 32, 32, 2], generator=np.random.default_rng(0))
    gradient_descent(model, X, y, steps=1000, lr=0.5)
    assert accuracy(model, X, y) >= 0.97


def test_two_layer_mlp_learns_digits_to_95_percent_test_accuracy():
    X, y = datasets.digits()
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, y, test_fraction=0.2, seed=0)
    model = nn.MLP([64, 64, 10], generator=np.random.default_rng(0))
    gradient_descent(model, X_train, y_train, steps=30, lr=0.5, batch_size=64)
    assert accuracy(model, X_test, y_test) >= 0.95


def test_float32_model_trains_in_float32():
    model = nn.MLP([2, 8, 2], dtype=np.float32)
    X, y = datasets.moons(32)
    loss = F.cross_entropy(model(X.astype(np.float32)), y)
    assert loss.dtype == np.float32
    loss.backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_losses_agree_with_their_composite_forms(reduction):
    rng = np.random.default_rng(4)
    z = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    t = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    classes = rng.integers(0, 3, 5)
    composite_ce = -(z.log_softmax(axis=-1) * F.one_hot(classes, 3)).sum(axis=-1)
    composite_mse = (z - t) ** 2
    if reduction != "none":
        composite_ce, composite_mse = getattr(composite_ce, reduction)(), getattr(composite_mse, reduction)()
    np.testing.assert_allclose(F.cross_entropy(z, classes, reduction).data, composite_ce.data)
    np.testing.assert_allclose(F.mse_loss(z, t, reduction).data, composite_mse.data)
    assert gradcheck(lambda a, b: F.mse_loss(a, b, reduction), (z, t))
    assert gradgradcheck(lambda a, b: F.mse_loss(a, b, reduction), (z, t))
    assert gradgradcheck(lambda a: F.cross_entropy(a, classes, reduction), (z,))


def test_modules_and_parameters_in_lists_tuples_and_dicts_are_trained():
    """micrograd's way, self.layers = [...] (or [] filled by a loop): parameters() found none of
    them, so an optimizer trained only the layers set as attributes."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(np.ones(1))
            self.layers = []
            for n_in, n_out in [(2, 3), (3, 3)]:
                self.layers.append(nn.Linear(n_in, n_out, generator=np.random.default_rng(n_in)))
            self.heads = {"a": nn.Linear(3, 1), "b": nn.Linear(3, 1, bias=False)}
            self.extra = (nn.Parameter(np.zeros(1)),)
            self.sizes = [2, 3, 3]  # holds no modules: never looked into

        def forward(self, x):
            for layer in self.layers:
                x = layer(x).tanh()
            return (self.heads["a"](x) + self.heads["b"](x)) * self.scale + self.extra[0]

    net = Net()
    assert [n for n, _ in net.named_parameters()] == [  # PyTorch's order and names (ModuleList, ModuleDict)
        "scale", "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
        "heads.a.weight", "heads.a.bias", "heads.b.weight", "extra.0",
    ]  # fmt: skip
    assert [n for n, _ in net.named_children()] == ["layers.0", "layers.1", "heads.a", "heads.b"]
    assert "(layers.1): Linear(in_features=3, out_features=3, bias=True)" in repr(net)
    before = {n: p.data.copy() for n, p in net.named_parameters()}
    opt = optim.SGD(net.parameters(), lr=0.1)
    X = np.random.default_rng(0).standard_normal((8, 2))
    nn.functional.mse_loss(net(X), np.ones((8, 1))).backward()
    opt.step()
    assert all(not np.array_equal(p.data, before[n]) for n, p in net.named_parameters())
    copy = Net()
    copy.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(copy(X).data, net(X).data)
    del net.heads
    assert len(net.parameters()) == 6


def test_module_list_holds_modules_as_pytorch_names_them():
    blocks = nn.ModuleList([nn.Linear(2, 2)]).extend([nn.Tanh()]).append(nn.Linear(2, 1))
    assert len(blocks) == 3 and isinstance(blocks[1], nn.Tanh) and list(blocks) == [blocks[0], blocks[1], blocks[2]]
    assert [n for n, _ in blocks.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(TypeError, match="holds Modules, got int"):
        blocks.append(3)
    seq = nn.Sequential(*blocks)
    X = np.ones((4, 2))
    np.testing.assert_array_equal(seq(X).data, blocks[2](blocks[1](blocks[0](X))).data)


def test_parameter_list_follows_changes_to_the_module_tree():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 1)))
    assert len(model.parameters()) == 4
    model[1].extra = nn.Linear(1, 1)  # a grandchild changes: the cached list must notice
    assert len(model.parameters()) == 6
    model[1].extra = None
    assert len(model.parameters()) == 4
    model.parameters().clear()  # the returned list is the caller's own
    assert len(model.parameters()) == 4


def test_a_run_that_diverges_stops_and_keeps_its_last_good_checkpoint(tmp_path):
    from tinygrad_edu import trainer

    run = trainer.Run.create(trainer.TrainConfig(dataset="blobs", hidden=[8], epochs=3, schedule="none"))
    path = tmp_path / "checkpoint.npz"
    run.config.epochs = 1
    run.train(progress=False, checkpoint=path)
    good = nn.load(path)
    run.config.epochs = 3
    for p in run.model.parameters():
        p.data *= 1e6  # as if a step had blown the weights up: the loss explodes
    with pytest.raises(trainer.Diverged, match="training diverged in epoch 2.*checkpoint of epoch 1 is kept"):
        run.train(progress=False, checkpoint=path)
    kept = nn.load(path)
    assert kept["epoch"] == 1
    for name, value in good["model"].items():
        np.testing.assert_array_equal(kept["model"][name], value)
