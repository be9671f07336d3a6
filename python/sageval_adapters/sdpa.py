"""torch's scaled_dot_product_attention through Python: on the same inputs it must agree with sageval's C++
`sdpa` backend (src/backends/sdpa_backend.cpp) to the bit, the check that the Python bridge adds nothing. So it
makes the same call: GQA through ``enable_gqa`` (torch >= 2.5; K and V repeated per query head before that),
``is_causal`` when Nq == Nk, else a boolean bottom-right mask (none for a single query row), cuDNN's SDPA kernel
switched off on CUDA when Nq != Nk, and rows that see no key set to 0. torch >= 2.1 (the `scale` argument)."""

import torch

from sageval_adapters import Unsupported, capabilities

if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
    raise ImportError(f"torch {torch.__version__} has no scaled_dot_product_attention (torch >= 2.1 needed)")

_MAJOR_MINOR = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
_HAS_GQA = _MAJOR_MINOR >= (2, 5)  # as SAGEVAL_TORCH_SDPA_HAS_GQA
_HAS_CUDNN_SDPA = _MAJOR_MINOR >= (2, 3)  # as SAGEVAL_TORCH_HAS_CUDNN_SDPA


class _CudnnOff:
    """cuDNN's SDPA kernel off for the scope (as the C++ backend's CudnnSdpaOff), the previous switch restored."""

    def __init__(self, off):
        self.off = off and _HAS_CUDNN_SDPA

    def __enter__(self):
        if self.off:
            self.saved = torch.backends.cuda.cudnn_sdp_enabled()
            torch.backends.cuda.enable_cudnn_sdp(False)

    def __exit__(self, *exc):
        if self.off:
            torch.backends.cuda.enable_cudnn_sdp(self.saved)


@capabilities(dtypes=["float16", "bfloat16", "float32"], devices=["cpu", "cuda"], lse=False, causal=True, gqa=True,
              gates="", description="torch.nn.functional.scaled_dot_product_attention",
              library="torch " + torch.__version__)
def attention(q, k, v, *, causal, sm_scale, return_lse):
    if return_lse:
        raise Unsupported("sdpa through Python does not return the log-sum-exp")
    group = q.shape[1] // k.shape[1]
    extra = {}
    if _HAS_GQA:
        extra["enable_gqa"] = group > 1
    elif group > 1:
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
    nq, nk = q.shape[2], k.shape[2]
    mask, is_causal = None, False
    if causal and nq == nk:
        is_causal = True
    elif causal and nq > 1:
        # torch's is_causal is top-left aligned; sageval's is bottom-right: an explicit mask, as the C++ backend.
        i = torch.arange(nq, device=q.device).view(nq, 1)
        j = torch.arange(nk, device=q.device).view(1, nk)
        mask = j <= i + (nk - nq)
    with _CudnnOff(q.is_cuda and nq != nk):
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0,
                                                               is_causal=is_causal, scale=sm_scale, **extra)
    if causal and nq > nk:
        out[:, :, : nq - nk].zero_()  # queries that see no key: 0 by sageval's convention (libtorch gives NaN)
    return out
