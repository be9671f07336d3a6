// sageval_decode_bench: attention for one new token against a KV cache (decode), per backend, as bandwidth.
//
// Decode attention is memory-bound: its floor is reading the cache once (K and V, 2 * 2 * B * Hkv * N * D bytes
// in fp16). Each variant's median time is turned into GB/s of those bytes and set against the device's copy
// bandwidth measured in the same run. Shapes: one query token, Hq = 32, Hkv = 8, D = 128 (the attention of
// Llama-3-8B), fp16, HND, batch x context from the options. Variants: fp16_decode (the split-KV kernel the `fp16`
// backend runs for such queries), fp16_prefill_kernel (the 128-row prefill kernel on the same problem: what the
// backend ran before), sage_int8 (quantization of the whole cache and the INT8 attention kernel: what the
// `sage_int8` backend would do per call if it did not run decode as fp16 does, which is why it does not), SDPA
// flash / efficient / cudnn (one backend at a time; GQA through enable_gqa).
// Method as sageval_attention_bench: CUDA events around each call, warm-up first, median of --iters, input sets
// rotated so that the L2 (60 MiB on an H200) does not hold the cache between calls of small shapes.
// Each call is timed twice: launched eagerly (what a caller outside a graph pays: where the host takes longer to
// launch a call than the GPU to run it, the GPU idles between the events and the time is the host's), and
// captured once per input set as a CUDA graph and replayed (`*_graph`: what a serving engine's captured decode
// step pays, the model runner's decode included; the GPU's time).
//
// Usage: sageval_decode_bench [--quick] [--batches B,..] [--contexts N,..] [--warmup N] [--iters N] [--json FILE]
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench_main.h"
#include "sageval/error_message.h"
#include "sageval/perf/environment.h"
#include "sageval/perf/timing.h"
#include "sageval/torch_compat.h"

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <ATen/cuda/CUDAContext.h>
#include <c10/core/InferenceMode.h>

#include "copy_bandwidth.h"
#include "variant_timing.h"
#include "sageval/kernel_bridge.h"
#include "sageval/model/cuda_graph.h"
#endif

namespace {

constexpr const char* kDescription =
    "sageval_decode_bench: decode attention (one query token against a KV cache) per backend, as GB/s of the cache";
constexpr int64_t kHeadsQ = 32, kHeadsKv = 8, kHeadDim = 128;

struct Options {
  std::vector<int64_t> batches{1, 8, 32};
  std::vector<int64_t> contexts{512, 2048, 8192, 32768};
  int warmup = 5, iters = 30;
  std::string json_path;
};

void add_options(CLI::App& app, Options& o) {
  app.add_flag("--quick", "batch 1 and 8, contexts 2048 and 8192 (unless given)");
  app.add_option("--batches", o.batches, "comma-separated")->delimiter(',')->check(CLI::Range(1, 256));
  app.add_option("--contexts", o.contexts, "cache lengths, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--warmup", o.warmup)->check(CLI::Range(0, 100000))->capture_default_str();
  app.add_option("--iters", o.iters)->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--json", o.json_path, "write every figure there");
}

void finish_options(const CLI::App& app, Options& o) {
  if (app.count("--quick") == 0) return;
  if (app.count("--batches") == 0) o.batches = {1, 8};
  if (app.count("--contexts") == 0) o.contexts = {2048, 8192};
}

#ifdef SAGEVAL_WITH_CUDA_KERNELS
namespace kernels = sageval::kernels;
using nlohmann::json;
using sageval::bench::gb_per_s;

constexpr int kInputSets = 3;
const std::vector<std::string> kVariants = {"fp16_decode",      "fp16_prefill_kernel", "sage_int8",
                                            "sdpa_flash",       "sdpa_efficient",      "sdpa_cudnn",
                                            "fp16_decode_graph", "sdpa_flash_graph",   "sdpa_cudnn_graph"};

struct InputSet {
  at::Tensor q, k, v;
  sageval::KernelCall call;
  at::Tensor decode_workspace;
  sageval::SageInt8Buffers int8_workspace;
};

InputSet make_input_set(int64_t batch, int64_t context) {
  const auto fp16 = at::TensorOptions().dtype(at::kHalf).device(at::kCUDA);
  InputSet in;
  in.q = at::randn({batch, kHeadsQ, 1, kHeadDim}, fp16);
  in.k = at::randn({batch, kHeadsKv, context, kHeadDim}, fp16);
  in.v = at::randn({batch, kHeadsKv, context, kHeadDim}, fp16);
  in.call = sageval::make_kernel_call(in.q, in.k, in.v, /*causal=*/true, 1.0 / std::sqrt(double(kHeadDim)),
                                      /*return_lse=*/false, sageval::MisalignedInputs::kReject);
  const int64_t bytes = kernels::attention_fp16_decode_workspace_bytes(in.call.problem);
  if (bytes > 0) in.decode_workspace = at::empty({bytes}, fp16.dtype(at::kByte));
  in.int8_workspace = sageval::allocate_sage_int8_workspace(in.call.problem, in.q.device());
  return in;
}

using sageval::bench::VariantResult;

// A call on input set i, on the current stream (a graph captures what is launched on its capture stream), returning
// its output so that a captured graph keeps the output buffer alive.
using SetCall = std::function<at::Tensor(int)>;

VariantResult measure(const SetCall& call, const Options& opt, const char* failure_status) {
  return sageval::bench::measure_variant([&](int i) { call(i); }, kInputSets, opt.warmup, opt.iters,
                                         failure_status);
}

// The same call captured once per input set (sageval::model::CapturedCall: a warm-up call, then the capture) and
// replayed. A refusal to be captured is the variant's status, as any other failure.
VariantResult measure_graph(const SetCall& call, const Options& opt, const char* failure_status) {
  std::vector<std::unique_ptr<sageval::model::CapturedCall>> graphs;
  try {
    const sageval::model::GraphPool pool = sageval::model::new_graph_pool();  // replayed one at a time
    for (int i = 0; i < kInputSets; ++i)
      graphs.push_back(std::make_unique<sageval::model::CapturedCall>([&call, i] { return call(i); }, pool));
  } catch (const sageval::UnsupportedInput& e) {
    return {"unsupported", e.what(), {}};
  } catch (const std::exception& e) {
    return {failure_status, "capture: " + sageval::error_message(e), {}};
  }
  return sageval::bench::measure_variant([&](int i) { graphs[i]->replay(); }, kInputSets, opt.warmup, opt.iters,
                                         failure_status);
}

cudaStream_t current_stream() { return at::cuda::getCurrentCUDAStream().stream(); }

// The SDPA variants: one backend each, launched eagerly or captured as a CUDA graph and replayed.
enum class SdpaKind { flash, efficient, cudnn };
struct SdpaVariant {
  const char* name;
  SdpaKind kind;
  bool graph;
};
constexpr SdpaVariant kSdpaVariants[] = {{"sdpa_flash", SdpaKind::flash, false},
                                         {"sdpa_efficient", SdpaKind::efficient, false},
                                         {"sdpa_cudnn", SdpaKind::cudnn, false},
                                         {"sdpa_flash_graph", SdpaKind::flash, true},
                                         {"sdpa_cudnn_graph", SdpaKind::cudnn, true}};

#if SAGEVAL_TORCH_HAS_SDPA
VariantResult measure_sdpa(const SdpaVariant& variant, const std::vector<InputSet>& sets, const Options& opt) {
#if !SAGEVAL_TORCH_SDPA_HAS_GQA
  return {"unsupported", "this libtorch's SDPA has no enable_gqa (2.5+)", {}};
#else
  using sageval::bench::SdpaBackend;
  const SdpaBackend backend = variant.kind == SdpaKind::flash       ? SdpaBackend::flash
                              : variant.kind == SdpaKind::efficient ? SdpaBackend::efficient
                                                                    : SdpaBackend::cudnn;
  const double scale = 1.0 / std::sqrt(double(kHeadDim));
  try {
    sageval::bench::SdpaOnly only(backend);  // also while a graph is captured: the capture picks the backend
    const SetCall call = [&](int i) {
      return at::scaled_dot_product_attention(sets[i].q, sets[i].k, sets[i].v, {}, 0.0, /*is_causal=*/false, scale,
                                              /*enable_gqa=*/true);
    };
    return variant.graph ? measure_graph(call, opt, "unsupported") : measure(call, opt, "unsupported");
  } catch (const std::exception& e) {  // the backend missing from this libtorch
    return {"unsupported", sageval::error_message(e), {}};
  }
#endif
}
#endif

int run_benchmark(const Options& opt) {
  c10::InferenceMode inference;
  json doc = {{"benchmark", "sageval_decode_bench"},
              {"libtorch", SAGEVAL_TORCH_VERSION_STRING},
              {"device", sageval::perf::environment_info().value("gpu", json::object())},
              {"method", {{"warmup", opt.warmup}, {"iters", opt.iters}, {"input_sets", kInputSets},
                          {"timer", "CUDA event pair around each call"},
                          {"graph", "*_graph: the call captured once per input set as a CUDA graph and replayed"}, {"dtype", "float16"}, {"layout", "HND"},
                          {"heads_q", kHeadsQ}, {"heads_kv", kHeadsKv}, {"head_dim", kHeadDim}, {"len_q", 1}}},
              {"shapes", json::array()}};
  const json& dev = doc["device"];
  fmt::print("device: {} (compute capability {}), {} SMs; libtorch {}\n", dev.value("name", "?"),
             dev.value("compute_capability", "?"), dev.value("sm_count", 0), SAGEVAL_TORCH_VERSION_STRING);
  doc["copy_bandwidth"] = sageval::bench::measure_copy_bandwidth(opt.warmup, opt.iters);
  const double copy = doc["copy_bandwidth"].value("gb_per_s_median", 0.0);
  fmt::print("baseline in this run: device-to-device copy {:.0f} GB/s (read + write)\n", copy);
  fmt::print("one query token, Hq {} / Hkv {}, D {}, fp16; GB/s of the K and V bytes (fraction of the copy)\n",
             kHeadsQ, kHeadsKv, kHeadDim);
  fmt::print("{:>4} {:>7} {:>10} |", "B", "context", "cache MiB");
  for (const std::string& v : kVariants) fmt::print(" {:>21}", v);
  fmt::print(" | decode/flash: eager, graph\n");
  bool failed = false;
  for (int64_t batch : opt.batches)
    for (int64_t context : opt.contexts) {
      std::vector<InputSet> sets;
      for (int i = 0; i < kInputSets; ++i) sets.push_back(make_input_set(batch, context));
      std::map<std::string, VariantResult> r;
      const SetCall decode = [&](int i) {
        kernels::attention_fp16_decode(sets[i].call.problem, sets[i].call.tensors,
                                       sets[i].decode_workspace.data_ptr(), current_stream());
        return sets[i].call.out;
      };
      const VariantResult not_taken{"unsupported",
                                    "not taken by the split-KV kernel (its shared memory does not fit this device): "
                                    "the fp16 backend runs the prefill kernel",
                                    {}};
      const bool taken = sets[0].decode_workspace.defined();
      r["fp16_decode"] = taken ? measure(decode, opt, "error") : not_taken;
      r["fp16_decode_graph"] = taken ? measure_graph(decode, opt, "error") : not_taken;
      r["fp16_prefill_kernel"] = measure([&](int i) {
        kernels::attention_fp16_forward(sets[i].call.problem, sets[i].call.tensors, current_stream());
        return sets[i].call.out;
      }, opt, "error");
      r["sage_int8"] = measure([&](int i) {
        const cudaStream_t stream = current_stream();
        kernels::sage_int8_quantize(sets[i].call.problem, sets[i].call.tensors, sets[i].int8_workspace.views, stream);
        kernels::sage_int8_attention(sets[i].call.problem, sets[i].call.tensors, sets[i].int8_workspace.views, stream);
        return sets[i].call.out;
      }, opt, "error");
      for (const SdpaVariant& v : kSdpaVariants) {
#if SAGEVAL_TORCH_HAS_SDPA
        r[v.name] = measure_sdpa(v, sets, opt);
#else
        r[v.name] = {"unsupported", "this libtorch has no scaled_dot_product_attention (2.1+)", {}};
#endif
      }
      const double cache_bytes = 2.0 * 2.0 * batch * kHeadsKv * context * kHeadDim;
      json row = {{"batch", batch}, {"context", context}, {"cache_bytes", cache_bytes}, {"variants", json::object()}};
      fmt::print("{:>4} {:>7} {:>10.1f} |", batch, context, cache_bytes / (1 << 20));
      for (const std::string& v : kVariants) {
        const VariantResult& x = r[v];
        json jv = {{"status", x.status}};
        if (x.status == "ok") {
          const double gbs = gb_per_s(cache_bytes, x.timing.median_ms);
          jv.update({{"timing", x.timing.to_json()}, {"gb_per_s_median", gbs},
                     {"fraction_of_copy", copy > 0 ? gbs / copy : 0.0}});
          fmt::print(" {:>8.1f} us {:>5.0f} ({:.2f})", x.timing.median_ms * 1e3, gbs, copy > 0 ? gbs / copy : 0.0);
        } else {
          jv["message"] = x.message;
          fmt::print(" {:>21}", x.status);
        }
        row["variants"][v] = jv;
      }
      for (const char* ours : {"fp16_decode", "fp16_decode_graph", "fp16_prefill_kernel", "sage_int8"})
        failed |= r[ours].status == "error";
      // Speed-ups of ours over SDPA's flash backend, each side launched the same way.
      const auto ratio = [&](const char* theirs, const char* mine) {
        const bool both = r[theirs].status == "ok" && r[mine].status == "ok";
        if (both) row["decode_speedup"][theirs] = r[theirs].timing.median_ms / r[mine].timing.median_ms;
        return both ? fmt::format("{:.2f}", r[theirs].timing.median_ms / r[mine].timing.median_ms) : std::string("-");
      };
      fmt::print(" | {:>6} {:>6}\n", ratio("sdpa_flash", "fp16_decode"), ratio("sdpa_flash_graph", "fp16_decode_graph"));
      doc["shapes"].push_back(row);
      sageval::bench::write_json(opt.json_path, doc);  // after every shape, so a run cut short keeps what it measured
    }
  return failed ? 1 : 0;
}
#endif  // SAGEVAL_WITH_CUDA_KERNELS

}  // namespace

int main(int argc, char** argv) {
  return sageval::bench::bench_main<Options>(argc, argv, kDescription, add_options, finish_options,
                                             SAGEVAL_BENCH_RUN(run_benchmark));
}
