"""The `tinygrad-edu` command line."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from tinygrad_edu import Tensor


def demo(args: argparse.Namespace) -> None:
    """Train a 2→16→1 network on XOR-like data with the bare Tensor."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (128, 2))
    y = (X[:, :1] * X[:, 1:] > 0).astype(float)
    w1 = Tensor(rng.standard_normal((2, 16)) * 0.5, requires_grad=True)
    b1 = Tensor(np.zeros(16), requires_grad=True)
    w2 = Tensor(rng.standard_normal((16, 1)) * 0.5, requires_grad=True)
    b2 = Tensor(np.zeros(1), requires_grad=True)
    params = [w1, b1, w2, b2]
    for step in range(500):
        p = ((Tensor(X) @ w1 + b1).tanh() @ w2 + b2).sigmoid()
        loss = ((p - y) ** 2).mean()
        for q in params:
            q.grad = None
        loss.backward()
        for q in params:
            q.data -= 2.0 * q.grad.data
        if step % 100 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    accuracy = ((p.data > 0.5) == y).mean()
    print(f"final loss {loss.item():.4f}, training accuracy {accuracy:.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinygrad-edu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="train a tiny network").set_defaults(run=demo)
    args = parser.parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
