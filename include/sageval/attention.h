// One attention interface for every backend sageval validates.
//
// A backend takes q [B, Hq, Nq, D], k and v [B, Hkv, Nk, D] (layout HND) or the same tensors as [B, N, H, D]
// (layout NHD) and returns the attention output in the layout of its inputs, plus, when asked, the
// log-sum-exp of the scaled scores (natural log, float32, [B, Hq, Nq]).
//
// Semantics every backend follows:
//  - softmax scale `sm_scale`, default 1/sqrt(D);
//  - grouped-query attention: Hq is a multiple of Hkv and query head h reads kv head h / (Hq / Hkv);
//  - causal masking aligned bottom-right (FlashAttention >= 2.1): query i sees key j iff j <= i + Nk - Nq.
//    A query that sees no key (possible when Nq > Nk) gets output 0 and log-sum-exp -inf.
//  - inputs are validated (dtype, rank, shapes, head dim, device, empty tensors, non-finite values) and any
//    option a backend does not support is rejected with an error naming it, never ignored.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace sageval {

enum class Layout { HND, NHD };

const char* to_string(Layout layout);

struct AttentionOptions {
  bool causal = false;
  std::optional<double> sm_scale;  // default 1/sqrt(head dim)
  Layout layout = Layout::HND;
  bool return_lse = false;
  // Scan q, k and v for NaN/Inf before running (one extra pass; a hot loop that has checked its inputs
  // elsewhere may turn it off). With kv_lengths only the keys that count are scanned, and on CUDA k and v not
  // at all (that would read the lengths back to the host).
  bool check_finite = true;
  // A backend's own check of its output, where it has one (py: backends: NaN/Inf in what Python returned). On
  // unless timing: a model run keeps it, so a py: backend's Inf is an error naming it, not NaN logits.
  bool check_output = true;
  // The CUDA kernels read 16-byte aligned rows. An input view that is not (an odd offset into a wider buffer,
  // an odd row stride) is copied to an aligned buffer, said in AttentionOutput::input_copies; false rejects it
  // with an error naming the tensor and the offset instead.
  bool copy_misaligned = true;
  // The keys that count, per batch row: int32 [B] on q's device; row b attends to keys [0, kv_lengths[b]) only,
  // causal alignment then bottom-right to kv_lengths[b]. For a static KV cache of which only the start is filled
  // (a decode step replayed as a CUDA graph at any length). On CPU every backend takes it (the interface runs
  // each batch row on its slice; values outside [0, Nk] are rejected); on CUDA the backends with
  // `BackendCapabilities::cuda_kv_lengths` read it on the device, without a copy to the host, and clamp values
  // into [0, Nk] (checking them would read them back); the others refuse it.
  at::Tensor kv_lengths;
};

// The options as a backend sees them: validated, the scale resolved, the layout already turned into HND views.
struct HndOptions {
  bool causal = false;
  double sm_scale = 1.0;
  bool return_lse = false;
  bool copy_misaligned = true;
  bool check_output = true;
  at::Tensor kv_lengths;  // defined only on CUDA, for backends with cuda_kv_lengths
  // A decode call (kernels::is_decode_call: at most 16 query rows per kv head, and 256+ keys or kv_lengths):
  // decided once here for every backend that treats decode apart.
  bool decode = false;
};

// Thrown when a backend declares that it does not compute such inputs (a dtype, device, head dim, causal
// alignment or option it lacks): a limit of the backend, not a mistake in the inputs. Suites count such cases as
// unsupported, by name, instead of failing or dropping them.
class UnsupportedInput : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct AttentionOutput {
  at::Tensor out;  // in the input layout; dtype: the input dtype, except `math`, which returns its compute dtype
  at::Tensor lse;  // float32 [B, Hq, Nq]; undefined unless return_lse
  std::vector<std::string> input_copies;  // inputs a backend copied before computing, and why (else empty)
};

struct BackendCapabilities {
  std::vector<int> head_dims;                // empty: any head dim
  std::vector<at::ScalarType> dtypes;        // accepted input dtypes
  bool cpu = false;                          // runs on CPU tensors
  bool cuda = false;                         // runs on CUDA tensors in this build
  bool lse = false;                          // can return the log-sum-exp
  bool causal = true;                        // supports causal masks (bottom-right aligned)
  bool gqa = true;                           // supports Hq != Hkv
  bool cuda_kv_lengths = false;              // takes AttentionOptions::kv_lengths on CUDA (read on the device)
  // Which accuracy gates of data/thresholds.json judge it against `math`: "fp16", "sage_int8", or "" (none
  // beyond finite output: its figures are shown, not judged).
  std::string gates;
  std::string description;
};

class AttentionBackend {
 public:
  virtual ~AttentionBackend() = default;
  virtual std::string name() const = 0;
  virtual BackendCapabilities capabilities() const = 0;
  // Validates the inputs against the capabilities, then computes.
  AttentionOutput forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttentionOptions& options = {}) const;

 protected:
  // Called with validated inputs converted to HND (views, not copies) and a resolved scale.
  virtual AttentionOutput forward_hnd(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      const HndOptions& options) const = 0;
};

// The registry. Names: "math", "math_fp32", "fp16", "sage_int8", "sdpa" where libtorch has it, and
// "py:MODULE:FUNCTION", a Python callable (python/sageval_adapters/__init__.py gives the convention), where this
// build embeds Python. list_backends() lists the fixed names; has_backend() also accepts a well-formed py: name.
std::unique_ptr<AttentionBackend> make_backend(const std::string& name);
std::vector<std::string> list_backends();
bool has_backend(const std::string& name);

}  // namespace sageval
