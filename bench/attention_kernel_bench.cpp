// sageval_attention_bench: throughput of the attention kernels against libtorch's SDPA, all timed in one run.
//
// Shapes as in FlashAttention's benchmark: B*N = 32768 tokens, H*D = 2048 (H = 2048/D), Hq = Hkv, fp16, HND.
// Variants: sage_int8_kernel (attention over a workspace quantized beforehand, on the path the device picks:
// sm90 on Hopper), sage_int8_with_quant (quantize + attention: what a user gets), sage_int8_kernel_sm80 (the
// mma.sync path forced, for comparison), sage_int8_quant_only (the default Q granularity; sage_int8_quant_only_qwarp
// or _qblock: the other one, for the recipe's speed comparison), sage_int8_quant_pass_{k_mean,k_int8,q_int8} (each
// pass of the quantization alone, GB/s of its own bytes against the copy), fp16_kernel, and SDPA restricted to one backend at a
// time (flash, cudnn, efficient), and any other backend named with --backends (e.g. a py: backend wrapping an
// external library such as thu-ml SageAttention) timed end to end through the backend interface: its own
// quantization and Python call included, the interface's NaN scans off. Method (the device notes of our workplace; FlashAttention's benchmarks): CUDA events around each call, warm-up
// first, median/min/max of --iters, 3 input sets rotated so the L2 does not flatter small shapes.
//
// Usage: sageval_attention_bench [--quick] [--json FILE] [--warmup N] [--iters N] [--head-dim D,..] [--seq N,..]
//                                [--backends NAME,..]
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench_main.h"
#include "sageval/attention.h"
#include "sageval/error_message.h"
#include "sageval/perf/environment.h"
#include "sageval/perf/timing.h"
#include "sageval/torch_compat.h"

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <ATen/cuda/CUDAContext.h>
#include <c10/core/InferenceMode.h>
#include <cuda_runtime.h>

#include "copy_bandwidth.h"
#include "variant_timing.h"
#include "sageval/kernels/cuda_check.h"
#include "sageval/eval/attention_harness.h"
#include "sageval/kernel_bridge.h"
#endif

namespace {

constexpr const char* kDescription =
    "sageval_attention_bench: attention kernels against libtorch's SDPA backends, timed in one run";
constexpr int64_t kTokens = 32768;     // B * N
constexpr int64_t kModelWidth = 2048;  // H * D

struct Options {
  std::vector<int64_t> head_dims{64, 128};
  std::vector<int64_t> seqs{1024, 2048, 4096, 8192, 16384, 32768};
  int warmup = 5, iters = 30;
  std::string json_path;
  std::vector<std::string> backends;  // timed end to end as variants "backend:NAME"
};

void add_options(CLI::App& app, Options& o) {
  app.add_flag("--quick", "head dim 128, N = 1K, 4K, 16K (unless --head-dim / --seq are given)");
  app.add_option("--json", o.json_path, "write every figure there");
  app.add_option("--warmup", o.warmup)->check(CLI::Range(0, 100000))->capture_default_str();
  app.add_option("--iters", o.iters)->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--backends", o.backends, "other attention backends to time end to end (comma-separated), e.g. "
                 "py:sageval_adapters.sageattention:sageattn")
      ->delimiter(',')
      ->check(sageval::app::backend_name());
  app.add_option("--head-dim", o.head_dims, "comma-separated")->delimiter(',')->check(CLI::IsMember({64, 128}));
  // B = 32768 / N must be a whole batch.
  app.add_option("--seq", o.seqs, "comma-separated; each must divide 32768")
      ->delimiter(',')
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            try {
              const int64_t n = std::stoll(text);
              if (n > 0 && kTokens % n == 0) return "";
            } catch (const std::exception&) {
            }
            return text + " does not divide 32768";
          },
          "divides 32768"));
}

void finish_options(const CLI::App& app, Options& o) {
  if (app.count("--quick") == 0) return;
  if (app.count("--head-dim") == 0) o.head_dims = {128};
  if (app.count("--seq") == 0) o.seqs = {1024, 4096, 16384};
}

#ifdef SAGEVAL_WITH_CUDA_KERNELS
namespace kernels = sageval::kernels;
using nlohmann::json;
constexpr int kInputSets = 3;

struct Shape {
  int64_t batch, heads, seq, head_dim;
  bool causal;
};
using sageval::perf::Timing;
using sageval::bench::VariantResult;
struct ShapeResult {
  Shape shape;
  std::map<std::string, VariantResult> variants;
  json sanity = json::object();
  std::map<std::string, double> quant_bytes;  // of each quantization variant: the fewest bytes it can move
};

// The quantization at the Q granularity sage_int8 does not run by default (numerics::QGranularity).
constexpr sageval::numerics::QGranularity kOtherGranularity =
    sageval::numerics::kDefaultQGranularity == sageval::numerics::QGranularity::kPerBlock
        ? sageval::numerics::QGranularity::kPerWarp
        : sageval::numerics::QGranularity::kPerBlock;
const std::string kOtherQuant = kOtherGranularity == sageval::numerics::QGranularity::kPerWarp
                                     ? "sage_int8_quant_only_qwarp"
                                     : "sage_int8_quant_only_qblock";
bool is_quantization(const std::string& variant) { return variant.rfind("sage_int8_quant", 0) == 0; }
// One pass of the quantization alone (kernels::QuantizationPass), over a workspace whose earlier passes ran.
std::string pass_variant(kernels::QuantizationPass pass) {
  return std::string("sage_int8_quant_pass_") + kernels::quantization_pass_name(pass);
}

const std::vector<std::string> kVariants = {"sage_int8_kernel", "sage_int8_with_quant", "sage_int8_kernel_sm80",
                                            "fp16_kernel",      "sdpa_flash",           "sdpa_cudnn",
                                            "sdpa_efficient",   "sage_int8_quant_only",
                                            kOtherQuant};  // the last two: not attention
const std::vector<std::array<std::string, 3>> kRatios = {  // label, numerator, denominator (TOPS)
    {"kernel/flash", "sage_int8_kernel", "sdpa_flash"},
    {"with_quant/flash", "sage_int8_with_quant", "sdpa_flash"},
    {"with_quant/cudnn", "sage_int8_with_quant", "sdpa_cudnn"},
    {"fp16/flash", "fp16_kernel", "sdpa_flash"},
    {"with_quant/kernel", "sage_int8_with_quant", "sage_int8_kernel"},
    {"kernel/sm80_kernel", "sage_int8_kernel", "sage_int8_kernel_sm80"}};

std::string backend_variant(const std::string& backend) { return "backend:" + backend; }

// The fixed ratios, then for each --backends entry its TOPS against cuDNN and sage_int8 (with quantization) against it.
std::vector<std::array<std::string, 3>> ratio_defs(const Options& opt) {
  std::vector<std::array<std::string, 3>> defs = kRatios;
  for (const std::string& b : opt.backends) {
    defs.push_back({b + "/cudnn", backend_variant(b), "sdpa_cudnn"});
    defs.push_back({"with_quant/" + b, "sage_int8_with_quant", backend_variant(b)});
  }
  return defs;
}

// FlashAttention's convention: two N x N x D matrix products per head, 4*B*H*N^2*D operations, halved for causal.
double attention_tops(const Shape& s, double ms) {
  const double ops = 4.0 * s.batch * s.heads * static_cast<double>(s.seq) * s.seq * s.head_dim;
  return (s.causal ? ops / 2 : ops) / (ms * 1e-3) / 1e12;
}

using sageval::bench::gb_per_s;

cudaStream_t current_stream() { return at::cuda::getCurrentCUDAStream().stream(); }

// Any failure becomes the variant's status and message. c10::Error's what() carries a C++ backtrace; the
// message alone is what belongs in the table and the JSON.
VariantResult measure(const std::function<void(int)>& call, const Options& opt, const char* failure_status) {
  return sageval::bench::measure_variant(call, kInputSets, opt.warmup, opt.iters, failure_status);
}

// One input set: fresh randn q, k, v (never zeros), its kernel call (output buffer included) from the bridge and
// an INT8 workspace of its own.
struct InputSet {
  at::Tensor q, k, v;
  sageval::KernelCall call;
  sageval::SageInt8Buffers workspace;
  const at::Tensor& out() const { return call.out; }
};

InputSet make_input_set(const Shape& s) {
  const auto fp16 = at::TensorOptions().dtype(at::kHalf).device(at::kCUDA);
  InputSet in;
  in.q = at::randn({s.batch, s.heads, s.seq, s.head_dim}, fp16);
  in.k = at::randn({s.batch, s.heads, s.seq, s.head_dim}, fp16);
  in.v = at::randn({s.batch, s.heads, s.seq, s.head_dim}, fp16);
  const double sm_scale = 1.0 / std::sqrt(static_cast<double>(s.head_dim));
  in.call = sageval::make_kernel_call(in.q, in.k, in.v, s.causal, sm_scale, /*return_lse=*/false,
                                      sageval::MisalignedInputs::kReject);
  in.workspace = sageval::allocate_sage_int8_workspace(in.call.problem, in.q.device());
  // Quantized once here, so that sage_int8_kernel times the attention alone.
  kernels::sage_int8_quantize(in.call.problem, in.call.tensors, in.workspace.views, current_stream());
  return in;
}

#if SAGEVAL_TORCH_HAS_SDPA
using sageval::bench::SdpaBackend;
using sageval::bench::SdpaOnly;

at::Tensor sdpa(const InputSet& in, const Shape& s, double scale) {
  return at::scaled_dot_product_attention(in.q, in.k, in.v, {}, 0.0, s.causal, scale);
}

// Any refusal (no kernel for the shape, backend missing from this libtorch) is recorded as "unsupported".
VariantResult measure_sdpa(SdpaBackend backend, const std::vector<InputSet>& sets, const Shape& s, double scale,
                           const Options& opt) {
  try {
    SdpaOnly only(backend);
    return measure([&](int i) { sdpa(sets[i], s, scale); }, opt, "unsupported");
  } catch (const std::exception& e) {
    return {"unsupported", e.what(), {}};
  }
}

// A glance at correctness, so that a kernel fast because it is wrong shows: relative L1 of set 0's output
// against libtorch's SDPA with its default backends. The accuracy suites are the real check.
double rel_l1_vs_sdpa(const InputSet& in, const Shape& s, double scale) {
  const at::Tensor ref = sdpa(in, s, scale).to(at::kFloat);
  return ((in.out().to(at::kFloat) - ref).abs().sum() / ref.abs().sum()).item<double>();
}
#endif

// The accuracy harness on a 1000-token case of this head dim and masking, for both kernels against math: the
// same gates as the test suites, so a fast but wrong build shows in the benchmark's own output.
json harness_check(const Shape& s) {
  json out = json::object();
  sageval::eval::AttentionCase c;
  c.head_dim = static_cast<int>(s.head_dim);
  c.len_q = c.len_k = 1000;
  c.causal = s.causal;
  for (const char* backend : {"sage_int8", "fp16"}) {
    try {
      const auto r = sageval::eval::run_attention_case(c, backend, sageval::eval::Reference::kMath, at::kCUDA);
      out[backend] = {{"case", r.case_name}, {"pass", r.pass()}, {"rel_l1", r.stats.rel_l1},
                      {"lse_max_abs", sageval::json_number(r.lse_max_abs)}};
    } catch (const std::exception& e) {
      out[backend] = {{"case", c.name()}, {"pass", false}, {"error", e.what()}};
    }
  }
  return out;
}

ShapeResult bench_shape(const Shape& s, const Options& opt) {
  ShapeResult r{s, {}, json::object()};
  std::vector<InputSet> sets;
  for (int i = 0; i < kInputSets; ++i) sets.push_back(make_input_set(s));
  const kernels::AttentionProblem& problem = sets[0].call.problem;
  const cudaStream_t stream = current_stream();
  SAGEVAL_CUDA_CHECK(cudaStreamSynchronize(stream));
  auto attention = [&](int i) { kernels::sage_int8_attention(problem, sets[i].call.tensors, sets[i].workspace.views, stream); };
  auto quantize = [&](int i) { kernels::sage_int8_quantize(problem, sets[i].call.tensors, sets[i].workspace.views, stream); };
  auto fp16 = [&](int i) { kernels::attention_fp16_forward(problem, sets[i].call.tensors, stream); };
  auto with_quant = [&](int i) {
    quantize(i);
    attention(i);
  };
  // Re-quantizing a set rewrites the same workspace contents, so the order of these variants does not matter.
  r.variants["sage_int8_kernel"] = measure(attention, opt, "error");
  r.variants["sage_int8_with_quant"] = measure(with_quant, opt, "error");
  r.variants["sage_int8_quant_only"] = measure(quantize, opt, "error");
  r.variants[kOtherQuant] = measure(
      [&](int i) {
        kernels::sage_int8_quantize(problem, sets[i].call.tensors, sets[i].workspace.views, stream, kOtherGranularity);
      },
      opt, "error");
  // The fewest bytes the quantization can move (kernels::sage_int8_quantization_min_bytes: Q and K read once, INT8
  // written; scales and the mean, under 1%, left out): a floor, not the traffic.
  r.quant_bytes["sage_int8_quant_only"] = r.quant_bytes[kOtherQuant] =
      static_cast<double>(kernels::sage_int8_quantization_min_bytes(problem));
  for (const kernels::QuantizationPass pass : kernels::kQuantizationPasses) {
    r.variants[pass_variant(pass)] = measure(
        [&](int i) { kernels::sage_int8_quantize_pass(problem, sets[i].call.tensors, sets[i].workspace.views, pass, stream); },
        opt, "error");
    r.quant_bytes[pass_variant(pass)] = static_cast<double>(kernels::sage_int8_quantization_pass_bytes(problem, pass));
  }
  for (int i = 0; i < kInputSets; ++i) quantize(i);  // the workspaces back at the default granularity
  kernels::set_sage_int8_path(kernels::SageInt8Path::kSm80);
  r.variants["sage_int8_kernel_sm80"] = measure(attention, opt, "error");
  kernels::set_sage_int8_path(kernels::SageInt8Path::kAuto);
  r.variants["fp16_kernel"] = measure(fp16, opt, "error");
  r.sanity["harness"] = harness_check(s);
  for (const std::string& name : opt.backends) {
    sageval::AttentionOptions o;
    o.causal = s.causal;
    o.sm_scale = problem.sm_scale;
    o.check_finite = false;  // timing the backend, not the interface's scans; the accuracy suites judge it
    o.check_output = false;
    try {
      const auto backend = sageval::make_backend(name);
      r.variants[backend_variant(name)] = measure([&](int i) { backend->forward(sets[i].q, sets[i].k, sets[i].v, o); },
                                                  opt, "error");
    } catch (const sageval::UnsupportedInput& e) {
      r.variants[backend_variant(name)] = {"unsupported", e.what(), {}};
    } catch (const std::exception& e) {
      r.variants[backend_variant(name)] = {"error", e.what(), {}};
    }
  }
#if SAGEVAL_TORCH_HAS_SDPA
  const double scale = problem.sm_scale;
  r.variants["sdpa_flash"] = measure_sdpa(SdpaBackend::flash, sets, s, scale, opt);
  r.variants["sdpa_cudnn"] = measure_sdpa(SdpaBackend::cudnn, sets, s, scale, opt);
  r.variants["sdpa_efficient"] = measure_sdpa(SdpaBackend::efficient, sets, s, scale, opt);
  try {
    fp16(0);
    r.sanity["fp16_kernel_rel_l1_vs_sdpa"] = rel_l1_vs_sdpa(sets[0], s, scale);
    with_quant(0);
    r.sanity["sage_int8_rel_l1_vs_sdpa"] = rel_l1_vs_sdpa(sets[0], s, scale);
  } catch (const std::exception& e) {
    r.sanity["error"] = e.what();
  }
  for (const std::string& name : opt.backends) {  // each on its own: one failing does not hide the others
    if (r.variants[backend_variant(name)].status != "ok") continue;
    try {
      sageval::AttentionOptions o;
      o.causal = s.causal;
      o.sm_scale = scale;
      const at::Tensor out = sageval::make_backend(name)->forward(sets[0].q, sets[0].k, sets[0].v, o).out.to(at::kFloat);
      const at::Tensor ref = sdpa(sets[0], s, scale).to(at::kFloat);
      r.sanity[name + "_rel_l1_vs_sdpa"] = ((out - ref).abs().sum() / ref.abs().sum()).item<double>();
    } catch (const std::exception& e) {
      r.sanity[name + "_error"] = e.what();
    }
  }
#else
  for (const char* name : {"sdpa_flash", "sdpa_cudnn", "sdpa_efficient"})
    r.variants[name] = {"unsupported", "libtorch " SAGEVAL_TORCH_VERSION_STRING " has no SDPA with `scale`", {}};
#endif
  return r;
}

// Ratio of median TOPS (the inverse ratio of median times); NaN where either side did not run.
double ratio(const ShapeResult& r, const std::string& a, const std::string& b) {
  const VariantResult &x = r.variants.at(a), &y = r.variants.at(b);
  return x.status == "ok" && y.status == "ok" ? y.timing.median_ms / x.timing.median_ms : NAN;
}

json shape_json(const ShapeResult& r, const Options& opt, double copy_gb_per_s) {
  const Shape& s = r.shape;
  json j = {{"head_dim", s.head_dim}, {"seq", s.seq},       {"batch", s.batch},
            {"heads", s.heads},       {"causal", s.causal}, {"sanity", r.sanity}};
  for (const auto& [name, v] : r.variants) {
    json& jv = j["variants"][name];
    jv["status"] = v.status;
    if (v.status != "ok") {
      jv["message"] = v.message;
      continue;
    }
    jv.update({{"median_ms", v.timing.median_ms}, {"min_ms", v.timing.min_ms}, {"max_ms", v.timing.max_ms}});
    if (is_quantization(name)) {
      const double bytes = r.quant_bytes.at(name);
      jv.update({{"min_bytes", bytes}, {"gb_per_s_median", gb_per_s(bytes, v.timing.median_ms)},
                 {"gb_per_s_best", gb_per_s(bytes, v.timing.min_ms)}});
      if (copy_gb_per_s > 0) jv["fraction_of_copy_median"] = gb_per_s(bytes, v.timing.median_ms) / copy_gb_per_s;
    } else {
      jv.update({{"tops_median", attention_tops(s, v.timing.median_ms)},
                 {"tops_best", attention_tops(s, v.timing.min_ms)},
                 {"tops_worst", attention_tops(s, v.timing.max_ms)}});
    }
  }
  for (const auto& [label, a, b] : ratio_defs(opt)) {
    const double x = ratio(r, a, b);
    j["ratios"][label] = std::isnan(x) ? json(nullptr) : json(x);
  }
  return j;
}

std::string cell(const ShapeResult& r, const std::string& name) {
  const VariantResult& v = r.variants.at(name);
  if (v.status != "ok") return v.status == "unsupported" ? "unsup" : "ERR";
  const double ms = v.timing.median_ms;
  return fmt::format("{:.0f}", is_quantization(name) ? gb_per_s(r.quant_bytes.at(name), ms)
                                                     : attention_tops(r.shape, ms));
}

void print_failures(const std::vector<ShapeResult>& rows) {
  for (const ShapeResult& r : rows)
    for (const auto& [name, v] : r.variants)
      if (v.status != "ok")
        fmt::print("D={} N={} causal={} {}: {}: {:.300}\n", r.shape.head_dim, r.shape.seq, r.shape.causal, name,
                   v.status, v.message);
}

void print_table(const std::vector<ShapeResult>& rows, const json& copy, const Options& opt) {
  const auto ratios = ratio_defs(opt);
  std::vector<std::string> variants = kVariants;
  for (size_t i = 0; i < opt.backends.size(); ++i) {
    variants.insert(variants.end() - 2, backend_variant(opt.backends[i]));  // before the quantization's GB/s
    fmt::print("ext{}: {} (end to end through the backend interface)\n", i + 1, opt.backends[i]);
  }
  fmt::print("\nTOPS at the median time (4*B*H*N^2*D/t, halved for causal); quant: GB/s of its minimum bytes (q_warp or "
             "q_blk: the other Q granularity's)");
  if (copy["status"] == "ok") fmt::print(" (D2D copy: {:.0f} GB/s)", copy["gb_per_s_median"].get<double>());
  fmt::print("\n{:>4} {:>6} {:>3} | {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}", "D", "N", "cau", "int8_k", "int8+q",
             "i8sm80", "fp16_k", "flash", "cudnn", "effic");
  for (size_t i = 0; i < opt.backends.size(); ++i) fmt::print(" {:>7}", fmt::format("ext{}", i + 1));
  fmt::print(" | {:>6} {:>6} |", "quant",
             kOtherGranularity == sageval::numerics::QGranularity::kPerWarp ? "q_warp" : "q_blk");
  for (size_t i = 0; i < ratios.size(); ++i) {
    std::string label = ratios[i][0];
    for (size_t e = 0; e < opt.backends.size(); ++e)  // ext1 in the headers, as in the columns
      if (const size_t pos = label.find(opt.backends[e]); pos != std::string::npos)
        label.replace(pos, opt.backends[e].size(), fmt::format("ext{}", e + 1));
    fmt::print(" {:>17}", label);
  }
  for (const ShapeResult& r : rows) {
    fmt::print("\n{:>4} {:>6} {:>3} |", r.shape.head_dim, r.shape.seq, r.shape.causal ? "yes" : "no");
    for (const std::string& name : variants)
      fmt::print(name == "sage_int8_quant_only" ? " | {:>6}" : name == kOtherQuant ? " {:>6} |" : " {:>7}", cell(r, name));
    for (const auto& [label, a, b] : ratios) {
      const double x = ratio(r, a, b);
      fmt::print(" {:>17}", std::isnan(x) ? std::string("-") : fmt::format("{:.2f}", x));
    }
  }
  fmt::print("\n");
}

// Each quantization pass timed alone: GB/s of its own minimum bytes and the fraction of the copy, then the whole
// quantization (the passes back to back, as sage_int8 runs them) over the minimum bytes of all of it.
void print_quantization_passes(const std::vector<ShapeResult>& rows, const json& copy) {
  const double copy_gbps = copy["status"] == "ok" ? copy["gb_per_s_median"].get<double>() : 0.0;
  auto cell_of = [&](const ShapeResult& r, const std::string& name) -> std::string {
    const VariantResult& v = r.variants.at(name);
    if (v.status != "ok") return v.status == "unsupported" ? "unsup" : "ERR";
    const double gbps = gb_per_s(r.quant_bytes.at(name), v.timing.median_ms);
    return copy_gbps > 0 ? fmt::format("{:.0f} ({:.2f})", gbps, gbps / copy_gbps) : fmt::format("{:.0f}", gbps);
  };
  fmt::print("\nQuantization passes, each timed alone: GB/s of its own minimum bytes (fraction of the D2D copy, {:.0f} "
             "GB/s); us at the median; all: the passes back to back over the minimum bytes of the whole\n",
             copy_gbps);
  fmt::print("{:>4} {:>6} {:>3} |", "D", "N", "cau");
  for (const kernels::QuantizationPass pass : kernels::kQuantizationPasses)
    fmt::print(" {:>8} {:>13}", fmt::format("{} us", kernels::quantization_pass_name(pass)), "GB/s");
  fmt::print(" | {:>8} {:>13}\n", "all us", "GB/s");
  for (const ShapeResult& r : rows) {
    fmt::print("{:>4} {:>6} {:>3} |", r.shape.head_dim, r.shape.seq, r.shape.causal ? "yes" : "no");
    for (const kernels::QuantizationPass pass : kernels::kQuantizationPasses) {
      const VariantResult& v = r.variants.at(pass_variant(pass));
      fmt::print(" {:>8.1f} {:>13}", v.status == "ok" ? v.timing.median_ms * 1e3 : NAN, cell_of(r, pass_variant(pass)));
    }
    const VariantResult& all = r.variants.at("sage_int8_quant_only");
    fmt::print(" | {:>8.1f} {:>13}\n", all.status == "ok" ? all.timing.median_ms * 1e3 : NAN,
               cell_of(r, "sage_int8_quant_only"));
  }
}

int run_benchmark(const Options& opt) {
  c10::InferenceMode inference;  // no autograd bookkeeping around the SDPA calls
  json doc = {{"benchmark", "sageval_attention_bench"},
              {"libtorch", SAGEVAL_TORCH_VERSION_STRING},
              {"device", sageval::perf::environment_info().value("gpu", json::object())},
              {"method", {{"warmup", opt.warmup}, {"iters", opt.iters}, {"input_sets", kInputSets},
                          {"timer", "CUDA event pair around each call"}, {"dtype", "float16"}, {"layout", "HND"}}},
              {"shapes", json::array()}};
  const json& dev = doc["device"];
  fmt::print("device: {} (compute capability {}), {} SMs, peak clocks {} MHz SM / {} MHz memory, {} MiB L2; libtorch {}\n",
             dev["name"].get<std::string>(), dev["compute_capability"].get<std::string>(), dev["sm_count"].get<int>(),
             dev["sm_clock_peak_mhz"].get<int>(), dev["memory_clock_peak_mhz"].get<int>(),
             dev["l2_bytes"].get<int64_t>() >> 20, SAGEVAL_TORCH_VERSION_STRING);
  doc["sage_int8_path"] = kernels::sage_int8_path_name(kernels::sage_int8_path());
  fmt::print("sage_int8 kernel path: {} (int8_k, int8+q); i8sm80: the sm80 path forced\n",
             doc["sage_int8_path"].get<std::string>());
  doc["quantization_passes"] = json::array();  // in the order sage_int8_quantize runs them (the report's columns)
  for (const kernels::QuantizationPass pass : kernels::kQuantizationPasses)
    doc["quantization_passes"].push_back({{"name", kernels::quantization_pass_name(pass)}, {"variant", pass_variant(pass)}});
  doc["backends"] = json::array();  // the --backends entries, each in its own words (a py: backend: library, version)
  for (const std::string& name : opt.backends) {
    const std::string description = sageval::make_backend(name)->capabilities().description;
    doc["backends"].push_back({{"name", name}, {"variant", backend_variant(name)}, {"description", description}});
    fmt::print("timed end to end: {}: {}\n", name, description);
  }
  doc["copy_bandwidth"] = sageval::bench::measure_copy_bandwidth(opt.warmup, opt.iters);
  std::vector<ShapeResult> rows;
  for (int64_t d : opt.head_dims)
    for (bool causal : {false, true})
      for (int64_t n : opt.seqs) {
        const Shape s{kTokens / n, kModelWidth / d, n, d, causal};
        fmt::print("D={} N={} causal={} (B={}, H={}) ...\n", d, n, causal, s.batch, s.heads);
        std::fflush(stdout);
        try {
          rows.push_back(bench_shape(s, opt));
        } catch (const std::exception& e) {  // the inputs could not be made: every variant fails with the reason
          rows.push_back({s, {}, json::object()});
          for (const std::string& name : kVariants) rows.back().variants[name] = {"error", e.what(), {}};
          for (const kernels::QuantizationPass pass : kernels::kQuantizationPasses)
            rows.back().variants[pass_variant(pass)] = {"error", e.what(), {}};
          for (const std::string& name : opt.backends) rows.back().variants[backend_variant(name)] = {"error", e.what(), {}};
        }
        doc["shapes"].push_back(shape_json(rows.back(), opt, doc["copy_bandwidth"].value("gb_per_s_median", 0.0)));
        sageval::bench::write_json(opt.json_path, doc);  // after every shape, so a run cut short keeps what it measured
      }
  print_failures(rows);
  print_table(rows, doc["copy_bandwidth"], opt);
  print_quantization_passes(rows, doc["copy_bandwidth"]);
  bool kernel_failed = false;  // an SDPA backend refusing a shape is not a failure of sageval
  for (const ShapeResult& r : rows)  // nor is a --backends entry's: the report shows its status
    for (const auto& [name, v] : r.variants)
      kernel_failed |= name.rfind("sdpa_", 0) != 0 && name.rfind("backend:", 0) != 0 && v.status != "ok";
  // The harness's accuracy check of each shape's kernels (same gates as the test suites) fails the run too.
  for (const ShapeResult& r : rows) {
    const json harness = r.sanity.value("harness", json::object());  // a named copy: items() of a temporary dangles
    for (const auto& [backend, check] : harness.items())
      if (!check.value("pass", false)) {
        fmt::print(stderr, "accuracy check failed for {} on {}: {}\n", backend, check.value("case", "?"), check.dump());
        kernel_failed = true;
      }
  }
  return kernel_failed ? 1 : 0;
}
#endif  // SAGEVAL_WITH_CUDA_KERNELS

}  // namespace

int main(int argc, char** argv) {
  return sageval::bench::bench_main<Options>(argc, argv, kDescription, add_options, finish_options,
                                             SAGEVAL_BENCH_RUN(run_benchmark));
}
