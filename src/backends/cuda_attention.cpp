#include "backends/cuda_attention.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <fmt/format.h>

#include "sageval/kernel_bridge.h"

namespace sageval {

SageInt8Buffers allocate_sage_int8_workspace(const kernels::AttentionProblem& problem, const at::Device& device) {
  SageInt8Buffers b;
  b.layout = kernels::sage_int8_workspace_layout(problem);
  b.bytes = at::empty({b.layout.total_bytes}, at::TensorOptions().dtype(at::kByte).device(device));
  b.views = kernels::sage_int8_workspace_at(b.bytes.data_ptr(), b.layout);
  return b;
}

namespace detail {
namespace {

KernelCall call_of(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const HndOptions& o) {
  return make_kernel_call(q, k, v, o.causal, o.sm_scale, o.return_lse,
                          o.copy_misaligned ? MisalignedInputs::kCopy : MisalignedInputs::kReject);
}

}  // namespace

AttentionOutput fp16_attention_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    const HndOptions& options) {
  c10::cuda::CUDAGuard guard(q.device());
  KernelCall call = call_of(q, k, v, options);
  if (options.kv_lengths.defined()) call.tensors.kv_lengths = options.kv_lengths.data_ptr<int32_t>();
  cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
  // Decode calls take the split-KV kernel where it fits the device, everything else the prefill kernel.
  const int64_t bytes = options.decode ? kernels::attention_fp16_decode_workspace_bytes(call.problem) : 0;
  if (bytes > 0) {
    const at::Tensor workspace = at::empty({bytes}, at::TensorOptions().dtype(at::kByte).device(q.device()));
    kernels::attention_fp16_decode(call.problem, call.tensors, workspace.data_ptr(), stream);
  } else if (options.kv_lengths.defined()) {
    const std::string why = kernels::attention_fp16_decode_refusal(call.problem);
    throw UnsupportedInput(fmt::format("kv_lengths is read by the fp16 split-KV decode kernel only, which does not "
                                       "take this call: {}",
                                       why.empty() ? "not a decode call" : why));
  } else {
    kernels::attention_fp16_forward(call.problem, call.tensors, stream);
  }
  return {call.out, call.lse, call.input_copies};
}

AttentionOutput sage_int8_attention_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                         const HndOptions& options, numerics::QGranularity granularity) {
  c10::cuda::CUDAGuard guard(q.device());
  KernelCall call = call_of(q, k, v, options);
  const SageInt8Buffers workspace = allocate_sage_int8_workspace(call.problem, q.device());
  cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
  kernels::sage_int8_quantize(call.problem, call.tensors, workspace.views, stream, granularity);
  kernels::sage_int8_attention(call.problem, call.tensors, workspace.views, stream);
  return {call.out, call.lse, call.input_copies};
}

}  // namespace detail
}  // namespace sageval
