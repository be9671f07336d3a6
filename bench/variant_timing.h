// What the benchmarks share about timing one variant: its result (status, message, timing), the timing of a call
// with its failures turned into a status, and the switch that leaves exactly one SDPA backend enabled. Used by
// sageval_attention_bench and sageval_decode_bench.
#pragma once

#include <array>
#include <functional>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

#include "sageval/attention.h"
#include "sageval/error_message.h"
#include "sageval/perf/timing.h"
#include "sageval/torch_compat.h"

namespace sageval::bench {

struct VariantResult {
  std::string status = "ok";  // ok | unsupported (a limit by design, a backend's refusal) | error
  std::string message;
  perf::Timing timing;
};

// `call(set)` after warm-up calls (module load, cuDNN plans, allocator), the input set rotating over `sets` so
// that L2 does not flatter small shapes. A limit a backend declares (UnsupportedInput) is "unsupported"; any other
// failure `failure_status`: "error" for our kernels (the run then fails), "unsupported" for SDPA's refusals.
inline VariantResult measure_variant(const std::function<void(int)>& call, int sets, int warmup, int iters,
                                     const char* failure_status) {
  try {
    return {"ok", {}, perf::time_gpu_calls([&](int i) { call(i % sets); }, warmup, iters)};
  } catch (const UnsupportedInput& e) {
    return {"unsupported", e.what(), {}};
  } catch (const std::exception& e) {
    return {failure_status, error_message(e), {}};
  }
}

#if SAGEVAL_TORCH_HAS_SDPA
enum class SdpaBackend { flash, cudnn, efficient };

// Enables exactly one SDPA backend, math among those switched off so that libtorch cannot fall back silently
// (it throws instead), and restores the previous switches when the scope ends.
class SdpaOnly {
 public:
  explicit SdpaOnly(SdpaBackend only) {
#if !SAGEVAL_TORCH_HAS_CUDNN_SDPA
    if (only == SdpaBackend::cudnn)  // before touching any switch: a throwing constructor runs no destructor
      throw std::runtime_error("libtorch " SAGEVAL_TORCH_VERSION_STRING " has no cuDNN SDPA backend (2.3+)");
#endif
    at::Context& ctx = at::globalContext();
    saved_ = {ctx.userEnabledFlashSDP(), ctx.userEnabledMemEfficientSDP(), ctx.userEnabledMathSDP()};
    ctx.setSDPUseFlash(only == SdpaBackend::flash);
    ctx.setSDPUseMemEfficient(only == SdpaBackend::efficient);
    ctx.setSDPUseMath(false);
#if SAGEVAL_TORCH_HAS_CUDNN_SDPA
    saved_cudnn_ = ctx.userEnabledCuDNNSDP();
    ctx.setSDPUseCuDNN(only == SdpaBackend::cudnn);
#endif
  }
  ~SdpaOnly() {
    at::Context& ctx = at::globalContext();
    ctx.setSDPUseFlash(saved_[0]);
    ctx.setSDPUseMemEfficient(saved_[1]);
    ctx.setSDPUseMath(saved_[2]);
#if SAGEVAL_TORCH_HAS_CUDNN_SDPA
    ctx.setSDPUseCuDNN(saved_cudnn_);
#endif
  }
  SdpaOnly(const SdpaOnly&) = delete;
  SdpaOnly& operator=(const SdpaOnly&) = delete;

 private:
  std::array<bool, 3> saved_{};
  bool saved_cudnn_ = false;
};

#endif  // SAGEVAL_TORCH_HAS_SDPA

}  // namespace sageval::bench
