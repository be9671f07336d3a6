"""Broken Python backends for sageval's tests: each must give its own named error, never a wrong answer."""

import torch

from sageval_adapters import Unsupported, capabilities

_CAPS = dict(dtypes=["float16", "bfloat16", "float32"], devices=["cpu", "cuda"], lse=True, causal=True, gqa=True,
             gates="fp16")


@capabilities(**_CAPS)
def raises(q, k, v, *, causal, sm_scale, return_lse):
    raise RuntimeError("deliberate failure inside the backend")


@capabilities(**_CAPS)
def wrong_shape(q, k, v, *, causal, sm_scale, return_lse):
    return q[..., :-1]


@capabilities(**_CAPS)
def wrong_dtype(q, k, v, *, causal, sm_scale, return_lse):
    return q.to(torch.float64)


@capabilities(**_CAPS)
def returns_nan(q, k, v, *, causal, sm_scale, return_lse):
    return torch.full_like(q, float("nan"))


@capabilities(**_CAPS)
def no_lse(q, k, v, *, causal, sm_scale, return_lse):
    return q.clone()


@capabilities(dtypes=["float32"], devices=["cpu"], lse=False, causal=False, gqa=False)
def narrow(q, k, v, *, causal, sm_scale, return_lse):
    return q.clone()


def undeclared(q, k, v, *, causal, sm_scale, return_lse):
    return q.clone()


@capabilities(**_CAPS)
def refuses(q, k, v, *, causal, sm_scale, return_lse):
    # How an adapter declares inputs its library does not compute: counted as unsupported, not as a failure.
    raise Unsupported("this library does not compute such inputs")


@capabilities(**_CAPS)
def not_implemented(q, k, v, *, causal, sm_scale, return_lse):
    # torch's own NotImplementedError (a missing kernel) is a failure, not a declared limit.
    raise NotImplementedError("Could not run 'aten::something' with arguments from the 'CUDA' backend")
