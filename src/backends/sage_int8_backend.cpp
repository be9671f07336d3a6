// `sage_int8`: SageAttention-style INT8 attention (K smoothing, per-block INT8 Q and K, INT32 Q.K^T, FP16 P.V
// with FP32 accumulation), the recipe of kernels/sage_int8_numerics.h. CUDA tensors run the kernels of
// kernels/; CPU tensors run the emulation, identical in Q.K^T.
#include "backends/backend_factories.h"
#include "sageval/emulation.h"
#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include "backends/cuda_attention.h"
#endif

namespace sageval::detail {
namespace {

class SageInt8Backend final : public AttentionBackend {
 public:
  std::string name() const override { return "sage_int8"; }

  BackendCapabilities capabilities() const override {
    BackendCapabilities caps;
    caps.head_dims = {64, 128};
    caps.dtypes = {at::kHalf, at::kBFloat16};
    caps.cpu = true;
    caps.cuda = cuda_kernels_available();
    caps.lse = true;
    caps.description = "INT8 Q.K^T (per-block, smoothed K), FP16 P.V (CPU: exact emulation)";
    return caps;
  }

 protected:
  AttentionOutput forward_hnd(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                              double sm_scale, bool return_lse) const override {
#ifdef SAGEVAL_WITH_CUDA_KERNELS
    if (q.is_cuda()) return sage_int8_attention_cuda(q, k, v, causal, sm_scale, return_lse);
#endif
    return emulate_sage_int8_attention(q, k, v, causal, sm_scale, return_lse);
  }
};

}  // namespace

std::unique_ptr<AttentionBackend> make_sage_int8_backend() { return std::make_unique<SageInt8Backend>(); }

}  // namespace sageval::detail
