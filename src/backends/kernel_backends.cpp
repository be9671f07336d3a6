// `fp16` and `sage_int8`: the two backends whose CUDA kernels sageval writes itself (kernels/). Each runs its
// kernel on CUDA tensors and its exact CPU emulation (src/emulation/) on CPU tensors; only the numerics differ.
//   fp16:      FP16 (or BF16) inputs, scores and softmax in FP32, P rounded to the input's 16-bit type before
//              P.V with an FP32 accumulator, output in the input dtype (FlashAttention-2 tiling).
//   sage_int8: SageAttention-style: K smoothed, Q (per 16 or 128 rows) and K (per 64) quantized to INT8, INT32
//              Q.K^T, FP16 P.V with FP32 accumulation (include/sageval/kernels/sage_int8_numerics.h). Decode calls (kernels::is_decode_call: a few
//              query rows against a cache) run as fp16 does, over the FP16 cache: quantizing the cache per call
//              reads it twice and writes it once more per step, 1.9-8.4x slower than the FP16 decode kernel on
//              the H200 (sageval_decode_bench, 2026-11-29), while decode attention is bound by reading the cache,
//              which INT8 Q.K^T does not shorten as long as the cache is kept in FP16. Where decode time goes:
//              docs/measurements/h200_decode_graph_2026-11-29.md.
#include <functional>
#include <optional>

#include <fmt/format.h>

#include "backends/backend_factories.h"
#include "sageval/emulation.h"
#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include "backends/cuda_attention.h"
#endif

namespace sageval::detail {
namespace {

using AttentionFn =
    std::function<AttentionOutput(const at::Tensor&, const at::Tensor&, const at::Tensor&, const HndOptions&)>;

struct Paths {
  AttentionFn cpu, cuda;  // cuda empty: no CUDA path in this build
};

class KernelBackend final : public AttentionBackend {
 public:
  // `decode`: the paths of decode calls (HndOptions::decode) and of calls with kv_lengths, which only the decode
  // kernel reads, where they differ from `main` (sage_int8's are fp16's): one rule for CPU and CUDA alike.
  KernelBackend(std::string name, std::string description, Paths main, std::optional<Paths> decode = {},
                std::string gates = "")
      : name_(std::move(name)), description_(std::move(description)), main_(main), decode_(decode),
        gates_(gates.empty() ? name_ : std::move(gates)) {}

  std::string name() const override { return name_; }

  BackendCapabilities capabilities() const override {
    BackendCapabilities caps;
    caps.head_dims = {64, 128};
    caps.dtypes = {at::kHalf, at::kBFloat16};
    caps.cpu = true;
    caps.cuda = static_cast<bool>(main_.cuda);
    caps.lse = true;
    caps.cuda_kv_lengths = static_cast<bool>(decode_ ? decode_->cuda : main_.cuda);
    caps.gates = gates_;
    caps.description = description_;
    return caps;
  }

 protected:
  AttentionOutput forward_hnd(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              const HndOptions& options) const override {
    const Paths& paths = decode_ && (options.decode || options.kv_lengths.defined()) ? *decode_ : main_;
    // Validation has already rejected CUDA tensors when the CUDA path is empty; a kernel's refusal is named by
    // AttentionBackend::forward.
    return (q.is_cuda() ? paths.cuda : paths.cpu)(q, k, v, options);
  }

 private:
  std::string name_, description_;
  Paths main_;
  std::optional<Paths> decode_;
  std::string gates_;  // whose thresholds judge it
};

// The CPU emulations read any strides; alignment does not matter to them.
AttentionOutput emulate_fp16_cpu(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const HndOptions& o) {
  return emulate_fp16_attention(q, k, v, o.causal, o.sm_scale, o.return_lse);
}

AttentionFn emulate_sage_int8_cpu(numerics::QGranularity granularity, bool smooth_q = false) {
  SageInt8EmulationOptions recipe;
  recipe.q_granularity = granularity;
  recipe.smooth_q = smooth_q;
  return [recipe](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const HndOptions& o) {
    return emulate_sage_int8_attention(q, k, v, o.causal, o.sm_scale, o.return_lse, recipe);
  };
}

AttentionFn fp16_cuda() {
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  return &fp16_attention_cuda;
#else
  return {};
#endif
}

AttentionFn sage_int8_cuda([[maybe_unused]] numerics::QGranularity granularity) {
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  return [granularity](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const HndOptions& o) {
    return sage_int8_attention_cuda(q, k, v, o, granularity);
  };
#else
  return {};
#endif
}

}  // namespace

std::unique_ptr<AttentionBackend> make_fp16_backend() {
  return std::make_unique<KernelBackend>("fp16", "FP16 reference (FlashAttention-2 tiling; CPU: exact emulation)",
                                         Paths{&emulate_fp16_cpu, fp16_cuda()});
}

std::unique_ptr<AttentionBackend> make_sage_int8_backend(const std::string& name, numerics::QGranularity granularity) {
  return std::make_unique<KernelBackend>(
      name, fmt::format("INT8 Q.K^T (Q scaled per {} rows, K per {}, smoothed K), FP16 P.V; decode (<= 16 query rows "
                        "per kv head) as fp16 (CPU: exact emulation)",
                        numerics::q_scale_rows(granularity), numerics::kKBlockRows),
      Paths{emulate_sage_int8_cpu(granularity), sage_int8_cuda(granularity)}, Paths{&emulate_fp16_cpu, fp16_cuda()},
      "sage_int8");
}

// A recipe lever under evaluation (issue #15): judged by sage_int8's gates, CPU only until a kernel has it. Its Q
// scales stay per block of 128 rows, as when it was measured (README), whatever sage_int8's default.
std::unique_ptr<AttentionBackend> make_sage_int8_qsmooth_backend() {
  return std::make_unique<KernelBackend>(
      "sage_int8_qsmooth", "sage_int8 with Q smoothed and scaled per block of 128 rows as SageAttention2 does (CPU "
      "emulation only: no kernel)",
      Paths{emulate_sage_int8_cpu(numerics::QGranularity::kPerBlock, /*smooth_q=*/true), {}},
      Paths{&emulate_fp16_cpu, {}},
      "sage_int8");
}

bool cuda_kernels_available() { return static_cast<bool>(fp16_cuda()); }

}  // namespace sageval::detail
