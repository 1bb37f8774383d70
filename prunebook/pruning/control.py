"""`run_if`: a rare update inside a jitted loop, without a copy on every other step.

`lax.cond(pred, fn, lambda x: x, x)` is the obvious way to update a pytree once in a while (GMP's
masks every 1,000 updates, Reset's output layer, ReDo's recycling, the target network's sync).
On XLA:CPU it costs a copy of the whole pytree on every call, also when `pred` is false: a
conditional's output buffers are distinct from its operands, so the pass-through branch copies.
In the MinAtar loop at width 5 that was two copies of the mask tree per update (2.6 MB of
kernel each; removing them made the loop 1.05–1.12× faster) and one of the network in the target
sync (removing it changed no measured speed). A `while_loop` that runs its body once or never
updates its carry in place, so the step that does nothing costs nothing.

Under `vmap` the difference grows: a batched predicate turns `lax.cond` into a `select` over
both branches, so every member computes `fn` on every step, whereas a `while_loop` runs its body
only while some member's predicate holds (members that do not need it keep their value).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import jax
import jax.numpy as jnp

T = TypeVar("T")


def run_if(pred, fn: Callable[[T], T], operand: T) -> T:
    """`fn(operand)` where the boolean scalar `pred` holds, else `operand` unchanged.

    The same values as `lax.cond(pred, fn, lambda x: x, operand)`; `fn` must return a pytree
    of the operand's structure, shapes and dtypes. Reverse mode (a `while_loop`'s) works only
    where the result has no tangent: masks, made by comparisons, have none, so a gradient
    through a `gmp` step still works (`tests/test_run_if.py`).
    """
    _, result = jax.lax.while_loop(lambda carry: carry[0],
                                   lambda carry: (jnp.zeros((), bool), fn(carry[1])),
                                   (jnp.asarray(pred, bool), operand))
    return result
