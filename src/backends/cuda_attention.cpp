#include "backends/cuda_attention.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "attention_kernels.h"

namespace sageval::detail {
namespace {

kernels::Strides4 strides_of(const at::Tensor& t) { return {t.stride(0), t.stride(1), t.stride(2)}; }

kernels::AttentionProblem problem_of(const at::Tensor& q, const at::Tensor& k, bool causal, double sm_scale) {
  kernels::AttentionProblem p;
  p.batch = static_cast<int>(q.size(0));
  p.heads_q = static_cast<int>(q.size(1));
  p.heads_kv = static_cast<int>(k.size(1));
  p.len_q = static_cast<int>(q.size(2));
  p.len_k = static_cast<int>(k.size(2));
  p.head_dim = static_cast<int>(q.size(3));
  p.causal = causal;
  p.sm_scale = static_cast<float>(sm_scale);
  p.dtype = q.scalar_type() == at::kBFloat16 ? kernels::ElementType::kBFloat16 : kernels::ElementType::kFloat16;
  return p;
}

// The output takes the memory order of q (HND or NHD), so that returning it in the caller's layout is free.
at::Tensor empty_like_query(const at::Tensor& q) {
  const bool nhd_memory = q.stride(1) < q.stride(2);
  if (!nhd_memory) return at::empty(q.sizes(), q.options());
  return at::empty({q.size(0), q.size(2), q.size(1), q.size(3)}, q.options()).transpose(1, 2);
}

kernels::AttentionTensors tensors_of(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                     at::Tensor& out, at::Tensor& lse) {
  kernels::AttentionTensors t;
  t.q = q.data_ptr();
  t.k = k.data_ptr();
  t.v = v.data_ptr();
  t.out = out.data_ptr();
  t.lse = lse.defined() ? lse.data_ptr<float>() : nullptr;
  t.q_strides = strides_of(q);
  t.k_strides = strides_of(k);
  t.v_strides = strides_of(v);
  t.out_strides = strides_of(out);
  return t;
}

}  // namespace

AttentionOutput fp16_attention_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                    double sm_scale, bool return_lse) {
  c10::cuda::CUDAGuard guard(q.device());
  at::Tensor out = empty_like_query(q);
  at::Tensor lse;
  if (return_lse) lse = at::empty({q.size(0), q.size(1), q.size(2)}, q.options().dtype(at::kFloat));
  kernels::attention_fp16_forward(problem_of(q, k, causal, sm_scale), tensors_of(q, k, v, out, lse),
                                  at::cuda::getCurrentCUDAStream().stream());
  return {out, lse};
}

AttentionOutput sage_int8_attention_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                         bool causal, double sm_scale, bool return_lse) {
  c10::cuda::CUDAGuard guard(q.device());
  const kernels::AttentionProblem problem = problem_of(q, k, causal, sm_scale);
  const kernels::SageInt8WorkspaceLayout layout = kernels::sage_int8_workspace_layout(problem);
  // Through the caching allocator, so the workspace shows in libtorch's memory statistics.
  at::Tensor workspace = at::empty({layout.total_bytes}, q.options().dtype(at::kByte));
  const kernels::SageInt8Workspace ws = kernels::sage_int8_workspace_at(workspace.data_ptr(), layout);
  at::Tensor out = empty_like_query(q);
  at::Tensor lse;
  if (return_lse) lse = at::empty({q.size(0), q.size(1), q.size(2)}, q.options().dtype(at::kFloat));
  const kernels::AttentionTensors tensors = tensors_of(q, k, v, out, lse);
  cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
  kernels::sage_int8_quantize(problem, tensors, ws, stream);
  kernels::sage_int8_attention(problem, tensors, ws, stream);
  return {out, lse};
}

}  // namespace sageval::detail
