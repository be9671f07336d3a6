"""A plain torch attention: the scores and the softmax in float32 (or float64 for float64 inputs), the output
rounded once to the input dtype. CI runs sageval's kernel case table through it against `math`: the check that
the Python route (embedding, DLPack both ways, the call convention) is exact."""

import math

import torch

from sageval_adapters import capabilities


def _bottom_right_mask(nq, nk, device):
    i = torch.arange(nq, device=device).view(nq, 1)
    j = torch.arange(nk, device=device).view(1, nk)
    return j <= i + (nk - nq)


@capabilities(dtypes=["float16", "bfloat16", "float32", "float64"], devices=["cpu", "cuda"], lse=True, causal=True,
              gqa=True, gates="fp16", description="plain torch attention, float32 scores and softmax",
              library="torch " + torch.__version__)
def attention(q, k, v, *, causal, sm_scale, return_lse):
    compute = torch.float64 if q.dtype == torch.float64 else torch.float32
    group = q.shape[1] // k.shape[1]
    kf = k.to(compute).repeat_interleave(group, dim=1)
    vf = v.to(compute).repeat_interleave(group, dim=1)
    s = torch.matmul(q.to(compute), kf.transpose(-1, -2)) * sm_scale
    if causal:
        s = s.masked_fill(~_bottom_right_mask(q.shape[2], k.shape[2], q.device), -math.inf)
    lse = torch.logsumexp(s, dim=-1)
    p = torch.exp(s - lse.unsqueeze(-1))
    p = torch.nan_to_num(p, nan=0.0)  # rows that see no key: output 0, LSE -inf
    out = torch.matmul(p, vf).to(q.dtype)
    return (out, lse.to(torch.float32)) if return_lse else out
