#include "sageval/eval/attention_cases.h"

#include <stdexcept>

#include <fmt/format.h>

#include "sageval/attention.h"
#include "sageval/thresholds.h"

namespace sageval::eval {

const char* to_string(Reference reference) { return reference == Reference::kMath ? "math" : "emulation"; }

const char* camel_name(InputFamily family) {
  switch (family) {
    case InputFamily::Gaussian: return "Gaussian";
    case InputFamily::KBias: return "KBias";
    case InputFamily::Outliers4x: return "Outliers4x";
    case InputFamily::Outliers8x: return "Outliers8x";
    case InputFamily::LargeV: return "LargeV";
  }
  return "Unknown";
}

std::string AttentionCase::name() const {
  return fmt::format("D{}_Q{}_K{}{}_GQA{}_B{}_{}_{}_{}", head_dim, len_q, len_k, causal ? "_Causal" : "", gqa, batch,
                     sageval::to_string(layout), dtype == at::kBFloat16 ? "Bf16" : "Fp16", camel_name(family));
}

AttentionShape AttentionCase::shape() const {
  AttentionShape s;
  s.batch = batch;
  s.heads_kv = heads_kv;
  s.heads_q = heads_kv * gqa;
  s.len_q = len_q;
  s.len_k = len_k;
  s.head_dim = head_dim;
  return s;
}

AttentionOptions AttentionCase::options() const {
  AttentionOptions o;
  o.causal = causal;
  o.layout = layout;
  o.return_lse = true;
  return o;
}

namespace {
double dtype_eps(at::ScalarType t) { return t == at::kBFloat16 ? 0x1p-7 : 0x1p-10; }  // machine epsilon
}  // namespace

Tolerance AttentionCase::tolerance(const std::string& backend, Reference reference) const {
  return tolerance(backend, make_backend(backend)->capabilities(), reference);
}

Tolerance AttentionCase::tolerance(const std::string& backend, const BackendCapabilities& caps,
                                   Reference reference) const {
  const Thresholds& t = Thresholds::defaults();
  Tolerance tol;
  // Which gates judge the backend: what its capabilities name (fp16 and sage_int8 their own; sage_int8_qblock,
  // sage_int8_qwarp and sage_int8_qsmooth sage_int8's; a py: backend what it claims; math, math_fp32, sdpa: none).
  const std::string& gates = caps.gates;
  if (reference == Reference::kEmulation) {
    // The built-in kernel backends (a CUDA kernel and its exact emulation on the CPU); a py: backend has no
    // emulation, sage_int8_qsmooth no kernel (it is its emulation).
    if ((gates != "sage_int8" && gates != "fp16") || backend.rfind("py:", 0) == 0 || !caps.cuda)
      throw std::invalid_argument(fmt::format("backend '{}' has no CPU emulation to compare with", backend));
    tol.key = "/attention/kernel_vs_emulation";
    tol.min_cosine = t.number(tol.key + "/min_cosine");
    tol.max_rel_l1 = t.number(tol.key + "/max_rel_l1");
    tol.max_lse_abs_error = t.number(tol.key + "/max_lse_abs_error_eps") * dtype_eps(dtype);
    return tol;
  }
  if (gates == "sage_int8") {
    tol.key = fmt::format("/attention/sage_int8/{}", sageval::to_string(family));
    tol.min_cosine = t.find_number(tol.key + "/min_cosine");
    tol.max_rel_l1 = t.find_number(tol.key + "/max_rel_l1");
    tol.max_lse_abs_error = t.number(tol.key + "/max_lse_abs_error");
    return tol;
  }
  if (gates == "fp16") {
    tol.key = "/attention/fp16";
    const double eps = dtype_eps(dtype);
    tol.plain16_ratio = t.number(tol.key + "/max_error_ratio");
    tol.abs_floor = t.number(tol.key + "/abs_floor_eps") * eps;
    tol.max_lse_abs_error = t.number(tol.key + "/max_lse_abs_error_eps") * eps;
    return tol;
  }
  // Other backends (math_fp32, sdpa, py: backends claiming no gates) have no gates beyond finite output: their
  // figures are shown, not judged.
  return tol;
}

namespace {

struct LayoutDtype {
  Layout layout;
  at::ScalarType dtype;
};
const LayoutDtype kRotation[4] = {{Layout::HND, at::kHalf},
                                  {Layout::NHD, at::kBFloat16},
                                  {Layout::NHD, at::kHalf},
                                  {Layout::HND, at::kBFloat16}};

}  // namespace

std::vector<AttentionCase> shape_cases() {
  const std::pair<int64_t, int64_t> lengths[] = {{1, 1},     {1, 1000},  {63, 63},   {65, 65},
                                                 {128, 128}, {1000, 1000}, {65, 1000}, {1000, 65}};
  std::vector<AttentionCase> cases;
  int pair_index = 0;
  for (auto [nq, nk] : lengths) {
    int d_index = 0;
    for (int d : {64, 128}) {
      for (bool causal : {false, true}) {
        for (int gqa : {1, 2, 4, 8}) {
          AttentionCase c;
          c.head_dim = d;
          c.len_q = nq;
          c.len_k = nk;
          c.causal = causal;
          c.gqa = gqa;
          const LayoutDtype& ld = kRotation[(pair_index + 2 * d_index + causal) % 4];
          c.layout = ld.layout;
          c.dtype = ld.dtype;
          // Small problems get a second batch and more heads; large ones stay cheap on CPU.
          const bool small = nq * nk <= 128 * 128;
          c.batch = small ? 2 : 1;
          c.heads_kv = (small || gqa <= 2) ? 2 : 1;
          cases.push_back(c);
        }
      }
      ++d_index;
    }
    ++pair_index;
  }
  return cases;
}

std::vector<AttentionCase> input_family_cases() {
  std::vector<AttentionCase> cases;
  int i = 0;
  for (InputFamily family : all_input_families())
    for (int d : {64, 128})
      for (at::ScalarType dtype : {at::kHalf, at::kBFloat16})
        for (bool causal : {false, true}) {
          AttentionCase c;
          c.family = family;
          c.head_dim = d;
          c.dtype = dtype;
          c.causal = causal;
          c.len_q = c.len_k = 1000;
          c.gqa = 2;
          c.heads_kv = 2;
          c.layout = (i++ % 2) ? Layout::NHD : Layout::HND;
          cases.push_back(c);
        }
  return cases;
}

std::vector<AttentionCase> long_sequence_cases() {
  std::vector<AttentionCase> cases;
  for (int64_t n : {4096, 8192, 16384, 32768})
    for (bool causal : {false, true}) {
      AttentionCase c;
      c.head_dim = 128;
      c.len_q = c.len_k = n;
      c.causal = causal;
      c.gqa = 4;
      c.heads_kv = 2;
      c.layout = causal ? Layout::NHD : Layout::HND;
      c.dtype = causal ? at::kBFloat16 : at::kHalf;
      cases.push_back(c);
    }
  return cases;
}

}  // namespace sageval::eval
