// `sdpa`: libtorch's scaled_dot_product_attention, the production FP16 baseline (FlashAttention-2 or cuDNN on
// GPUs). Present only where libtorch has it (2.1+, with the `scale` argument).
//
// libtorch's `is_causal` is top-left aligned, so it is used only where that equals bottom-right alignment
// (Nq == Nk); a single query sees every key and needs no mask; other causal shapes get an explicit mask,
// which makes libtorch fall back from its fused kernels (recorded by benchmarks as such).
//
// cuDNN's SDPA builds an execution plan for every new shape. In a decode loop the key length grows by one per
// step, so every call paid for a new plan: 62 ms per step of the default model on an H100 against 0.04 ms per
// call for the same shape repeated (sageval_model_bench and a torch script, 2026-11-25). Calls with Nq != Nk
// (decode, chunked prefill) therefore run with cuDNN switched off for their duration, leaving libtorch's flash
// and memory-efficient kernels, as inference engines do for decode.
#include "backends/backend_factories.h"
#include "sageval/torch_compat.h"

#if SAGEVAL_TORCH_HAS_SDPA
#include "backends/causal_mask.h"
#endif

namespace sageval::detail {

#if SAGEVAL_TORCH_HAS_SDPA
namespace {

// Switches libtorch's cuDNN SDPA off for its lifetime (when `off`), restoring the user's setting afterwards.
class CudnnSdpaOff {
 public:
  explicit CudnnSdpaOff(bool off) {
#if SAGEVAL_TORCH_HAS_CUDNN_SDPA
    if (!off) return;
    active_ = true;
    saved_ = at::globalContext().userEnabledCuDNNSDP();
    at::globalContext().setSDPUseCuDNN(false);
#else
    (void)off;
#endif
  }
  ~CudnnSdpaOff() {
#if SAGEVAL_TORCH_HAS_CUDNN_SDPA
    if (active_) at::globalContext().setSDPUseCuDNN(saved_);
#endif
  }
  CudnnSdpaOff(const CudnnSdpaOff&) = delete;
  CudnnSdpaOff& operator=(const CudnnSdpaOff&) = delete;

 private:
  bool active_ = false, saved_ = false;
};

class SdpaBackend final : public AttentionBackend {
 public:
  std::string name() const override { return "sdpa"; }

  BackendCapabilities capabilities() const override {
    BackendCapabilities caps;
    caps.dtypes = {at::kHalf, at::kBFloat16, at::kFloat};
    caps.cpu = true;
    caps.cuda = true;
    caps.lse = false;  // the public C++ entry point does not return it
    caps.description = "libtorch scaled_dot_product_attention (" SAGEVAL_TORCH_VERSION_STRING ")";
    return caps;
  }

 protected:
  // return_lse is rejected by validation; libtorch's kernels handle any alignment themselves.
  AttentionOutput forward_hnd(const at::Tensor& q, const at::Tensor& k_in, const at::Tensor& v_in,
                              const HndOptions& options) const override {
    const bool causal = options.causal;
    const double sm_scale = options.sm_scale;
    const int64_t len_q = q.size(2), len_k = k_in.size(2), group = q.size(1) / k_in.size(1);
#if SAGEVAL_TORCH_SDPA_HAS_GQA
    const at::Tensor& k = k_in;
    const at::Tensor& v = v_in;
    const bool gqa = group > 1;
#else
    at::Tensor k = expand_kv_heads(k_in, group);
    at::Tensor v = expand_kv_heads(v_in, group);
    const bool gqa = false;
#endif
    std::optional<at::Tensor> mask;
    bool is_causal = false;
    if (causal && len_q == len_k) {
      is_causal = true;
    } else if (causal && len_q > 1) {
      mask = causal_mask_block(0, len_q, 0, len_k, len_q, len_k, q.device()).logical_not();
    }
    const CudnnSdpaOff no_cudnn(q.is_cuda() && len_q != len_k);
#if SAGEVAL_TORCH_SDPA_HAS_GQA
    at::Tensor out = at::scaled_dot_product_attention(q, k, v, mask, 0.0, is_causal, sm_scale, gqa);
#else
    (void)gqa;
    at::Tensor out = at::scaled_dot_product_attention(q, k, v, mask, 0.0, is_causal, sm_scale);
#endif
    if (causal && len_q > len_k) {
      // Queries that see no key come back as NaN from libtorch; the interface defines them as 0.
      out.slice(2, 0, len_q - len_k).zero_();
    }
    return {out, {}, {}};
  }
};

}  // namespace

std::unique_ptr<AttentionBackend> make_sdpa_backend() { return std::make_unique<SdpaBackend>(); }
#else
std::unique_ptr<AttentionBackend> make_sdpa_backend() { return nullptr; }
#endif

}  // namespace sageval::detail
