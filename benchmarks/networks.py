"""The two benchmark networks, written three ways: tinygrad_edu, hand-written
numpy (the floor), and PyTorch eager."""

from __future__ import annotations

import numpy as np

from tinygrad_edu import Tensor, nn
from tinygrad_edu.nn import functional as F

# (layer sizes, batch size, loss)
SMALL = ([2, 16, 16, 1], 32, "mse")
MEDIUM = ([64, 128, 10], 64, "cross_entropy")


def make_data(sizes, batch, loss, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0]))
    y = rng.standard_normal((batch, 1)) if loss == "mse" else rng.integers(0, sizes[-1], batch)
    return X, y


def make_weights(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (rng.uniform(-1, 1, (n_out, n_in)) / np.sqrt(n_in), rng.uniform(-1, 1, n_out) / np.sqrt(n_in))
        for n_in, n_out in zip(sizes, sizes[1:])
    ]


def ours(sizes, batch, loss, seed=0):
    """(model, X, y, loss_fn) with tinygrad_edu."""
    model = nn.MLP(sizes)
    linears = [m for _, m in model.named_modules() if isinstance(m, nn.Linear)]
    for layer, (w, b) in zip(linears, make_weights(sizes, seed)):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    X, y = make_data(sizes, batch, loss, seed)
    loss_fn = F.mse_loss if loss == "mse" else F.cross_entropy
    return model, Tensor(X), y, loss_fn


class NumpyMLP:
    """Forward and backward of a ReLU MLP by hand: the floor to compare against."""

    def __init__(self, sizes, loss, seed=0):
        self.params = [(w.copy(), b.copy()) for w, b in make_weights(sizes, seed)]
        self.loss = loss

    def loss_and_grads(self, X, y):
        activations, h = [X], X
        for i, (w, b) in enumerate(self.params):
            h = h @ w.T + b
            if i < len(self.params) - 1:
                h = np.maximum(h, 0)
            activations.append(h)
        n = len(X)
        if self.loss == "mse":
            diff = h - y
            loss = np.mean(diff * diff)
            g = 2 * diff / diff.size
        else:
            shifted = h - h.max(axis=1, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            loss = -log_p[np.arange(n), y].mean()
            g = np.exp(log_p)
            g[np.arange(n), y] -= 1
            g /= n
        grads = []
        for i in range(len(self.params) - 1, -1, -1):
            w, _ = self.params[i]
            a = activations[i]
            grads.append((g.T @ a, g.sum(axis=0)))
            if i:
                g = (g @ w) * (a > 0)
        return loss, grads[::-1]

    def hvp(self, X, y, vectors):
        """H·v by hand, forward over reverse (cross-entropy only): every value of
        loss_and_grads and, beside it, its derivative along v (written ``d``; the
        data's is zero, so the first layer has one product fewer each way)."""
        (w, b), (dw, db) = self.params[0], vectors[0]
        h, dh = X @ w.T + b, X @ dw.T + db
        activations, tangents, masks = [X], [None], []
        for (w, b), (dw, db) in zip(self.params[1:], vectors[1:]):
            mask = h > 0
            h, dh = h * mask, dh * mask
            masks.append(mask)
            activations.append(h)
            tangents.append(dh)
            h, dh = h @ w.T + b, dh @ w.T + h @ dw.T + db
        n = len(X)
        shifted = h - h.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        p /= p.sum(axis=1, keepdims=True)
        g, dg = p, p * (dh - (p * dh).sum(axis=1, keepdims=True))  # softmax's derivative along dh
        g[np.arange(n), y] -= 1
        g, dg = g / n, dg / n
        products = []
        for i in range(len(self.params) - 1, -1, -1):
            (w, _), (dw, _) = self.params[i], vectors[i]
            a, da = activations[i], tangents[i]
            products.append((dg.T @ a + (g.T @ da if i else 0), dg.sum(axis=0)))
            if i:
                g, dg = (g @ w) * masks[i - 1], (dg @ w + g @ dw) * masks[i - 1]
        return products[::-1]


class NumpyAdam:
    """Adam by hand, in place (PyTorch's defaults and formula): the optimizer floor."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = [a for pair in params for a in pair]
        self.lr, (self.b1, self.b2), self.eps, self.t = lr, betas, eps, 0
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]

    def step(self, grads):
        self.t += 1
        step_size = self.lr / (1 - self.b1**self.t)
        root_bc2 = np.sqrt(1 - self.b2**self.t)
        for p, g, m, v in zip(self.params, (a for pair in grads for a in pair), self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * (g * g)
            denominator = np.sqrt(v)
            denominator /= root_bc2
            denominator += self.eps
            p -= step_size * (m / denominator)


def torch_model(torch, sizes, loss, seed=0):
    layers = []
    for i, (w, b) in enumerate(make_weights(sizes, seed)):
        linear = torch.nn.Linear(w.shape[1], w.shape[0]).double()
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    loss_fn = torch.nn.functional.mse_loss if loss == "mse" else torch.nn.functional.cross_entropy
    return model, loss_fn
