"""thu-ml SageAttention (github.com/thu-ml/SageAttention) behind sageval's call convention.

Passes through: the HND layout (tensor_layout="HND"), the softmax scale (sm_scale), GQA (SageAttention takes
Hq != Hkv itself). Lacks, and therefore refuses rather than hides: causal masks with Nq != Nk (SageAttention
aligns them top-left; sageval's convention is bottom-right), the log-sum-exp in the `sageattn` entry point
(return_lse is refused), CPU tensors, float32. Judged by sageval's INT8 gates."""

import torch

from sageval_adapters import capabilities

import sageattention  # noqa: E402  (an ImportError here names the missing library)

_VERSION = getattr(sageattention, "__version__", "unknown version")


@capabilities(dtypes=["float16", "bfloat16"], devices=["cuda"], head_dims=[64, 128], lse=False, causal=True, gqa=True,
              gates="sage_int8", description="thu-ml SageAttention sageattn (its own kernel choice per GPU)",
              library="sageattention " + _VERSION)
def sageattn(q, k, v, *, causal, sm_scale, return_lse):
    if return_lse:
        raise ValueError("sageattention.sageattn does not return the log-sum-exp")
    if causal and q.shape[2] != k.shape[2]:
        raise ValueError(f"SageAttention aligns causal masks top-left; sageval's are bottom-right, and Nq = {q.shape[2]} "
                         f"!= Nk = {k.shape[2]}: refused rather than computed differently")
    return sageattention.sageattn(q, k, v, tensor_layout="HND", is_causal=causal, sm_scale=sm_scale)
