"""tinygrad_edu: a small reverse-mode autodiff engine on numpy, with
Hessian-vector products, a minimal nn, and the optimizers of the lecture
"neural network optimization tips"."""

# The engine first: tensor.py and ops.py build on it (engine.py explains the order).
from tinygrad_edu.engine import enable_grad, is_grad_enabled, no_grad  # isort: skip
from tinygrad_edu.autograd import grad, hessian, hvp, jacobian, jvp, make_hvp
from tinygrad_edu.engine import JitError
from tinygrad_edu.jit import jit, make_trace  # the function jit now hides the module's name
from tinygrad_edu.tensor import Tensor, concat, manual_seed, stack

__all__ = [
    "JitError", "Tensor", "concat", "enable_grad", "grad", "hessian", "hvp", "is_grad_enabled", "jacobian", "jit",
    "jvp", "make_hvp", "make_trace", "manual_seed", "no_grad", "stack",
]  # fmt: skip
__version__ = "0.1.0"
