"""torch's scaled_dot_product_attention through Python: on the same inputs it must agree with sageval's C++
`sdpa` backend to the bit (the check that the Python bridge adds nothing). torch >= 2.1 (the `scale` argument)."""

import torch

from sageval_adapters import capabilities

if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
    raise ImportError(f"torch {torch.__version__} has no scaled_dot_product_attention (torch >= 2.1 needed)")


@capabilities(dtypes=["float16", "bfloat16", "float32"], devices=["cpu", "cuda"], lse=False, causal=True, gqa=True,
              gates="", description="torch.nn.functional.scaled_dot_product_attention",
              library="torch " + torch.__version__)
def attention(q, k, v, *, causal, sm_scale, return_lse):
    if return_lse:
        raise ValueError("sdpa through Python does not return the log-sum-exp")
    group = q.shape[1] // k.shape[1]
    if group > 1:
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
    nq, nk = q.shape[2], k.shape[2]
    if causal and nq != nk and nq != 1:
        # torch's is_causal is top-left aligned; sageval's is bottom-right: an explicit mask, as the C++ backend.
        i = torch.arange(nq, device=q.device).view(nq, 1)
        j = torch.arange(nk, device=q.device).view(1, nk)
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=j <= i + (nk - nq), scale=sm_scale)
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal and nq == nk, scale=sm_scale)
