"""thu-ml SageAttention (github.com/thu-ml/SageAttention) behind sageval's call convention.

Three entry points, each a backend (``py:sageval_adapters.sageattention:NAME``):

- ``sageattn``: the library's public function, which picks its kernel per GPU (on Hopper: INT8 Q.K^T with FP8
  P.V, ``sageattn_qk_int8_pv_fp8_cuda_sm90``; on Ampere: INT8 Q.K^T with FP16 P.V). What SGLang's
  ``--attention-backend sage_attn`` calls.
- ``qk_int8_pv_fp16_cuda``: ``sageattn_qk_int8_pv_fp16_cuda`` with an FP32 P.V accumulator (the recipe of
  sageval's own ``sage_int8``: INT8 Q.K^T, FP16 P.V), its default per-thread Q/K granularity.
- ``qk_int8_pv_fp8_cuda_sm90``: ``sageattn_qk_int8_pv_fp8_cuda_sm90`` (FP32+FP32 accumulation), Hopper only.

Passes through: the HND layout (``tensor_layout="HND"``), the softmax scale (``sm_scale``), GQA (SageAttention
takes Hq != Hkv itself), causal masks when Nq == Nk (and a single query row, a decode step, which under sageval's
bottom-right alignment sees every key: called without a mask), the log-sum-exp (``return_lse``; SageAttention returns it in
base 2 with K's smoothing removed, and converts it to natural log itself). Lacks, and therefore refuses with
sageval_adapters.Unsupported (sageval counts such cases as unsupported, by name) rather than computing something else:
causal masks with 1 < Nq != Nk (SageAttention aligns them top-left; sageval's convention is bottom-right), CPU
tensors and float32 (declared in the capabilities). Judged by sageval's INT8 gates.

The library's version: its package metadata where it was installed, else the commit in a COMMIT file beside the
package folder (scripts/device/stage_sageattention.sh writes it for a snapshot built in place).
"""

import os

import torch

from sageval_adapters import Unsupported, capabilities

import sageattention  # noqa: E402  (an ImportError here names the missing library)


def _version():
    # The package imported, not another one installed elsewhere: a source tree built in place first (its COMMIT
    # file), then the distribution whose files include the imported package.
    package_dir = os.path.dirname(os.path.abspath(sageattention.__file__))
    commit_file = os.path.join(os.path.dirname(package_dir), "COMMIT")
    if os.path.exists(commit_file):
        with open(commit_file) as f:
            return "commit " + f.read().strip()[:12]
    try:
        from importlib.metadata import distribution

        dist = distribution("sageattention")
        if any(os.path.abspath(str(dist.locate_file(f))).startswith(package_dir) for f in (dist.files or [])):
            return dist.version
    except Exception:  # no such distribution
        pass
    return "unknown version (imported from " + package_dir + ")"


_LIBRARY = "sageattention " + _version()


def _refuse_top_left(q, k, causal):
    if causal and q.shape[2] != k.shape[2] and q.shape[2] != 1:
        raise Unsupported(
            f"SageAttention aligns causal masks top-left; sageval's are bottom-right, and Nq = {q.shape[2]} != "
            f"Nk = {k.shape[2]}: refused rather than computed differently")


def _call(fn, q, k, v, causal, sm_scale, return_lse, **extra):
    _refuse_top_left(q, k, causal)
    if causal and q.shape[2] == 1:
        causal = False  # one query row (a decode step) sees every key under bottom-right alignment: no mask at all
    result = fn(q, k, v, tensor_layout="HND", is_causal=causal, sm_scale=sm_scale, return_lse=return_lse, **extra)
    if return_lse:
        out, lse = result
        return out, lse.to(torch.float32).contiguous()
    return result


_CAPS = dict(dtypes=["float16", "bfloat16"], devices=["cuda"], head_dims=[64, 128], lse=True, causal=True, gqa=True,
             gates="sage_int8", library=_LIBRARY)


@capabilities(description="thu-ml SageAttention sageattn (its own kernel choice per GPU)", **_CAPS)
def sageattn(q, k, v, *, causal, sm_scale, return_lse):
    return _call(sageattention.sageattn, q, k, v, causal, sm_scale, return_lse)


@capabilities(description="thu-ml SageAttention sageattn_qk_int8_pv_fp16_cuda (INT8 Q.K^T, FP16 P.V, FP32 accumulator)",
              **_CAPS)
def qk_int8_pv_fp16_cuda(q, k, v, *, causal, sm_scale, return_lse):
    return _call(sageattention.sageattn_qk_int8_pv_fp16_cuda, q, k, v, causal, sm_scale, return_lse,
                 pv_accum_dtype="fp32")


@capabilities(description="thu-ml SageAttention sageattn_qk_int8_pv_fp8_cuda_sm90 (INT8 Q.K^T, FP8 P.V; Hopper)",
              **_CAPS)
def qk_int8_pv_fp8_cuda_sm90(q, k, v, *, causal, sm_scale, return_lse):
    if torch.cuda.get_device_capability(q.device) != (9, 0):
        raise Unsupported("sageattn_qk_int8_pv_fp8_cuda_sm90 runs on compute capability 9.0 only, this GPU is "
                                  f"{torch.cuda.get_device_capability(q.device)}")
    return _call(sageattention.sageattn_qk_int8_pv_fp8_cuda_sm90, q, k, v, causal, sm_scale, return_lse,
                 pv_accum_dtype="fp32+fp32")
