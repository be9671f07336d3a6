// `fp16`: the FP16 reference. FP16 (or BF16) inputs, scores and softmax in FP32, P rounded to the input's
// 16-bit type before P.V with an FP32 accumulator, output in the input dtype. CUDA tensors run the
// FlashAttention-2-style kernel of kernels/; CPU tensors run its exact emulation.
#include "backends/backend_factories.h"
#include "sageval/emulation.h"
#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include "backends/cuda_attention.h"
#endif

namespace sageval::detail {
namespace {

class Fp16Backend final : public AttentionBackend {
 public:
  std::string name() const override { return "fp16"; }

  BackendCapabilities capabilities() const override {
    BackendCapabilities caps;
    caps.head_dims = {64, 128};
    caps.dtypes = {at::kHalf, at::kBFloat16};
    caps.cpu = true;
    caps.cuda = cuda_kernels_available();
    caps.lse = true;
    caps.description = "FP16 reference (FlashAttention-2 tiling; CPU: exact emulation)";
    return caps;
  }

 protected:
  AttentionOutput forward_hnd(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                              double sm_scale, bool return_lse) const override {
#ifdef SAGEVAL_WITH_CUDA_KERNELS
    if (q.is_cuda()) return fp16_attention_cuda(q, k, v, causal, sm_scale, return_lse);
#endif
    return emulate_fp16_attention(q, k, v, causal, sm_scale, return_lse);
  }
};

}  // namespace

std::unique_ptr<AttentionBackend> make_fp16_backend() { return std::make_unique<Fp16Backend>(); }

bool cuda_kernels_available() {
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

}  // namespace sageval::detail
