#include "sageval/kernel_bridge.h"

#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace sageval {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("kernel bridge: " + what); }

int to_int(int64_t value, const char* what) {
  if (value < 0 || value > std::numeric_limits<int>::max())
    fail(fmt::format("{} = {} does not fit the kernels' 32-bit size fields", what, value));
  return static_cast<int>(value);
}

kernels::Strides4 strides_of(const at::Tensor& t) { return {t.stride(0), t.stride(1), t.stride(2)}; }

// The output takes the memory order of q (HND or NHD), so returning it in the caller's layout is free.
at::Tensor empty_like_query(const at::Tensor& q) {
  const bool nhd_memory = q.stride(1) < q.stride(2);
  if (!nhd_memory) return at::empty(q.sizes(), q.options());
  return at::empty({q.size(0), q.size(2), q.size(1), q.size(3)}, q.options()).transpose(1, 2);
}

}  // namespace

std::string kernel_misalignment(const at::Tensor& t) {
  const int64_t element = static_cast<int64_t>(t.element_size());
  const auto address = reinterpret_cast<uintptr_t>(t.data_ptr());
  if (address % kernels::kKernelAlignment != 0)
    return fmt::format("data pointer {} bytes past a {}-byte boundary (storage offset {} elements)",
                       address % kernels::kKernelAlignment, kernels::kKernelAlignment, t.storage_offset());
  const char* axes[3] = {"batch", "head", "token"};
  for (int axis = 0; axis < 3; ++axis) {
    // A stride of an axis of size 1 is never stepped over.
    if (t.size(axis) > 1 && (t.stride(axis) * element) % kernels::kKernelAlignment != 0)
      return fmt::format("{} stride {} elements ({} bytes) is not a multiple of {} bytes", axes[axis],
                         t.stride(axis), t.stride(axis) * element, kernels::kKernelAlignment);
  }
  return {};
}

kernels::AttentionProblem make_kernel_problem(const AttentionShape& shape, bool causal, double sm_scale,
                                              at::ScalarType dtype) {
  if (dtype != at::kHalf && dtype != at::kBFloat16)
    fail(fmt::format("dtype {} is not a 16-bit float type (float16, bfloat16)", c10::toString(dtype)));
  kernels::AttentionProblem p;
  p.batch = to_int(shape.batch, "batch");
  p.heads_q = to_int(shape.heads_q, "query heads");
  p.heads_kv = to_int(shape.heads_kv, "key/value heads");
  p.len_q = to_int(shape.len_q, "query length");
  p.len_k = to_int(shape.len_k, "key length");
  p.head_dim = to_int(shape.head_dim, "head dim");
  p.causal = causal;
  p.sm_scale = static_cast<float>(sm_scale);
  p.dtype = dtype == at::kBFloat16 ? kernels::ElementType::kBFloat16 : kernels::ElementType::kFloat16;
  return p;
}

KernelCall make_kernel_call(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                            double sm_scale, bool return_lse, MisalignedInputs misaligned) {
  const char* names[3] = {"q", "k", "v"};
  const at::Tensor* inputs[3] = {&q, &k, &v};
  for (int i = 0; i < 3; ++i) {
    const at::Tensor& t = *inputs[i];
    if (!t.defined() || t.dim() != 4) fail(fmt::format("{} must be a 4-D [B, H, N, D] tensor", names[i]));
    if (t.scalar_type() != q.scalar_type() || t.device() != q.device())
      fail(fmt::format("{} must have q's dtype and device", names[i]));
    if (t.stride(3) != 1) fail(fmt::format("{} must have a contiguous head dim (stride 1), got stride {}", names[i], t.stride(3)));
  }
  // Shapes: the kernels index k and v with q's batch and head dim and map query head h to kv head h / group.
  if (k.sizes() != v.sizes()) fail("k and v must have one shape");
  if (k.size(0) != q.size(0) || k.size(3) != q.size(3))
    fail("q, k and v must share batch size and head dim");
  if (k.size(1) <= 0 || q.size(1) % k.size(1) != 0)
    fail(fmt::format("query heads ({}) must be a multiple of key/value heads ({})", q.size(1), k.size(1)));
  AttentionShape shape;
  shape.batch = q.size(0);
  shape.heads_q = q.size(1);
  shape.heads_kv = k.size(1);
  shape.len_q = q.size(2);
  shape.len_k = k.size(2);
  shape.head_dim = q.size(3);
  KernelCall call;
  call.problem = make_kernel_problem(shape, causal, sm_scale, q.scalar_type());
  at::Tensor* owned[3] = {&call.q, &call.k, &call.v};
  for (int i = 0; i < 3; ++i) {
    *owned[i] = *inputs[i];
    const std::string why = kernel_misalignment(*inputs[i]);
    if (why.empty()) continue;
    if (misaligned == MisalignedInputs::kReject)
      fail(fmt::format("{} is not aligned for the kernels: {}; pass a contiguous tensor or allow the copy",
                       names[i], why));
    // clone, not contiguous(): a contiguous view at an odd offset would come back as itself.
    *owned[i] = inputs[i]->clone(at::MemoryFormat::Contiguous);
    if (const std::string still = kernel_misalignment(*owned[i]); !still.empty())
      fail(fmt::format("{} is still misaligned after a copy: {}", names[i], still));
    call.input_copies.push_back(fmt::format("{} copied to an aligned buffer: {}", names[i], why));
  }
  call.out = empty_like_query(call.q);
  if (return_lse) call.lse = at::empty({q.size(0), q.size(1), q.size(2)}, q.options().dtype(at::kFloat));
  kernels::AttentionTensors& t = call.tensors;
  t.q = call.q.data_ptr();
  t.k = call.k.data_ptr();
  t.v = call.v.data_ptr();
  t.out = call.out.data_ptr();
  t.lse = call.lse.defined() ? call.lse.data_ptr<float>() : nullptr;
  t.q_strides = strides_of(call.q);
  t.k_strides = strides_of(call.k);
  t.v_strides = strides_of(call.v);
  t.out_strides = strides_of(call.out);
  return call;
}

}  // namespace sageval
