// sageval_model_bench: end-to-end throughput and memory of the model runner per attention backend.
//
// Prefill tokens/s over input length x batch; decode tokens/s (one new token per sequence per step, the KV
// cache filled to the context length); time to first token; the attention share of prefill time (the
// backend timed alone on the model's q/k/v shapes, times the layer count, over the prefill time); peak memory
// of one attention call, a prefill and a decode step (caching allocator and cudaMemGetInfo), with the
// sage_int8 quantization workspace shown separately. Every backend runs in the same process on the same inputs,
// so the ratios sage_int8/fp16 and sage_int8/sdpa compare like with like.
// Method (as FlashAttention's benchmarks): warm-up, CUDA events, median/min/max of --iters (>= 10) runs, three
// rotating input sets. Configurations that do not fit are recorded as out_of_memory with the size, not dropped.
// --precision-plan FILE (sageval plan's output) times prefill once more with the plan (its candidate everywhere
// except the plan's layers, which run the baseline), keyed by the plan's label, in the same loop as the backends:
// the speed cost of a plan against its candidate everywhere.
// --baseline FILE compares against a stored run (noise margin from the runs' spread; exit 3 on a regression).
//
// Usage: sageval_model_bench [--quick] [--model DIR] [--backends a,b] [--lengths ..] [--batches ..]
//        [--decode-lengths ..] [--decode-batches ..] [--memory-lengths ..] [--iters N] [--warmup N]
//        [--json FILE] [--baseline FILE [--margin F]] [--precision-plan FILE] [--prefill-only]
// Host-bound configurations (short inputs, time to first token) vary more between processes than within one run:
// two back-to-back quick runs on an H100 flagged 9 of 30 configurations at the default 5% floor (TTFT of sdpa at
// 512 tokens: +63%). Compare long inputs, or raise --margin, for such cases.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench_main.h"
#include "sageval/attention.h"
#include "sageval/error_message.h"
#include "sageval/eval/precision_plan.h"
#include "sageval/model/llama_model.h"
#include "sageval/perf/environment.h"
#include "sageval/perf/gpu_memory.h"
#include "sageval/perf/regression.h"
#include "sageval/perf/timing.h"
#include "sageval/record.h"

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <c10/core/InferenceMode.h>

#include "copy_bandwidth.h"
#include "sageval/model/cuda_graph.h"
#endif

namespace {

using nlohmann::json;
namespace perf = sageval::perf;

constexpr const char* kDescription =
    "sageval_model_bench: prefill and decode throughput, time to first token and memory per attention backend";
constexpr int kInputSets = 3;

struct Options {
  std::string model = sageval::model::default_model_dir();
  std::vector<std::string> backends{"fp16", "sage_int8", "sdpa"};
  std::vector<int64_t> lengths{128, 256, 512, 1024, 2048, 4096, 8192};
  std::vector<int64_t> batches{1, 2, 4, 8, 16, 32};
  std::vector<int64_t> decode_lengths{512, 1024, 2048, 4096, 8192, 16384, 32768};
  std::vector<int64_t> decode_batches{1, 2, 4, 8, 16, 32};
  std::vector<int64_t> memory_lengths{128, 512, 2048, 8192};
  int warmup = 3, iters = 20;
  std::string json_path = sageval::report_dir() + "/model_bench.json";
  std::string baseline_path;
  double margin = 0.05;  // the floor of the regression noise margin
  std::string plan_path;  // a precision plan to time in prefill beside the backends
  bool prefill_only = false;
  bool decode_only = false;
};

void add_options(CLI::App& app, Options& o) {
  app.add_flag("--quick", "lengths 512 and 2048, batches 1 and 8 (unless given)");
  app.add_option("--model", o.model, "model folder")->check(CLI::ExistingDirectory)->capture_default_str();
  app.add_option("--backends", o.backends, "comma-separated (default: fp16, sage_int8 and sdpa where present)")
      ->delimiter(',')
      ->check(sageval::app::backend_name());
  for (auto [name, list] : {std::pair{"--lengths", &o.lengths}, {"--batches", &o.batches},
                            {"--decode-lengths", &o.decode_lengths}, {"--decode-batches", &o.decode_batches},
                            {"--memory-lengths", &o.memory_lengths}})
    app.add_option(name, *list, "comma-separated")->delimiter(',')->check(CLI::PositiveNumber);
  app.add_option("--iters", o.iters, "timed runs (medians of fewer than 10 are not reported)")
      ->check(CLI::Range(10, 100000))
      ->capture_default_str();
  app.add_option("--warmup", o.warmup)->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--json", o.json_path)->capture_default_str();
  app.add_option("--baseline", o.baseline_path, "an earlier run's JSON: exit 3 on a regression beyond the noise");
  app.add_option("--precision-plan", o.plan_path, "a precision plan file (sageval plan): prefill timed with it too")
      ->check(CLI::ExistingFile);
  app.add_flag("--prefill-only", o.prefill_only, "prefill alone: no time to first token, decode or memory sections")
      ->excludes(app.add_flag("--decode-only", o.decode_only, "decode alone: no prefill, time to first token or memory"));
  app.add_option("--margin", o.margin, "the floor of the regression noise margin (0.05 = 5%)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

void finish_options(const CLI::App& app, Options& o) {
  if (app.count("--quick") != 0) {
    for (auto [name, list] : {std::pair{"--lengths", &o.lengths}, {"--decode-lengths", &o.decode_lengths},
                              {"--memory-lengths", &o.memory_lengths}})
      if (app.count(name) == 0) *list = {512, 2048};
    for (auto [name, list] : {std::pair{"--batches", &o.batches}, {"--decode-batches", &o.decode_batches}})
      if (app.count(name) == 0) *list = {1, 8};
  }
  if (app.count("--backends") == 0) {  // the default list, less what this build lacks (sdpa: libtorch >= 2.1), said
    std::vector<std::string> present;
    for (const std::string& b : o.backends) {
      if (sageval::has_backend(b)) present.push_back(b);
      else fmt::print("backend '{}' is not in this build: not measured\n", b);
    }
    o.backends = present;
  }
}

#ifdef SAGEVAL_WITH_CUDA_KERNELS

std::string config_name(int64_t batch, int64_t length) { return fmt::format("B{}_L{}", batch, length); }

// Runs `fn`; an allocation failure or any other error becomes the entry's status and message (with the size that
// failed), and the cached blocks are released so that the next configuration starts clean.
void guarded(json& entry, const std::string& what, const std::function<void()>& fn) {
  try {
    fn();
    entry["status"] = "ok";
  } catch (const std::exception& e) {
    const bool oom = perf::is_out_of_memory(e);
    entry["status"] = oom ? "out_of_memory" : "error";
    entry["message"] = fmt::format("{}: {}", what, sageval::error_message(e));
    perf::release_cached_gpu_memory();
  }
}

// The options of the model's attention calls when they are timed alone: causal, NHD, no input or output scans.
sageval::AttentionOptions timed_attention_options() {
  sageval::AttentionOptions o;
  o.causal = true;
  o.layout = sageval::Layout::NHD;
  o.check_finite = false;
  o.check_output = false;
  return o;
}

struct Bench {
  const Options& opt;
  std::unique_ptr<sageval::model::LlamaModel> model;
  json doc;
  std::optional<sageval::eval::PrecisionPlan> plan;  // --precision-plan, checked against the model's layers

  at::Tensor random_tokens(int64_t batch, int64_t length) const {
    return at::randint(0, model->config().vocab_size, {batch, length},
                       at::TensorOptions().dtype(at::kLong).device(at::kCUDA));
  }

  // The attention calls of one prefill, timed alone: q, k, v as the model makes them (NHD, fp16, GQA).
  perf::Timing time_attention(const std::string& backend, int64_t batch, int64_t length) const {
    const auto& c = model->config();
    const auto fp16 = at::TensorOptions().dtype(at::kHalf).device(at::kCUDA);
    std::vector<std::array<at::Tensor, 3>> sets;
    for (int i = 0; i < kInputSets; ++i)
      sets.push_back({at::randn({batch, length, c.num_heads, c.head_dim}, fp16),
                      at::randn({batch, length, c.num_kv_heads, c.head_dim}, fp16),
                      at::randn({batch, length, c.num_kv_heads, c.head_dim}, fp16)});
    auto b = sageval::make_backend(backend);
    sageval::AttentionOptions o = timed_attention_options();
    return perf::time_gpu_calls([&](int i) { b->forward(sets[i % kInputSets][0], sets[i % kInputSets][1], sets[i % kInputSets][2], o); },
                                opt.warmup, opt.iters);
  }

  void prefill() {
    // Backends innermost: the backends of one configuration are timed back to back, so drift over the run
    // (clocks, host load) cannot fake a ratio between them.
    // The plan (if any) is one more entry, keyed by its label; its layers mix two backends, so it has no
    // attention-alone timing.
    std::vector<std::string> entries = opt.backends;
    if (plan) entries.push_back(plan->label());
    for (int64_t batch : opt.batches)
      for (int64_t length : opt.lengths)
        for (const std::string& backend : entries) {
          const bool is_plan = plan && backend == plan->label();
          json e = {{"key", fmt::format("prefill/{}/{}", backend, config_name(batch, length))},
                    {"backend", backend}, {"batch", batch}, {"length", length}};
          if (is_plan) e["precision_plan"] = plan->to_json();
          guarded(e, fmt::format("prefill B={} L={}", batch, length), [&] {
            model->set_attention(is_plan ? plan->selection() : sageval::model::AttentionSelection{backend, {}});
            std::vector<at::Tensor> tokens;
            for (int i = 0; i < kInputSets; ++i) tokens.push_back(random_tokens(batch, length));
            const perf::Timing t =
                perf::time_gpu_calls([&](int i) { model->forward(tokens[i % kInputSets]); }, opt.warmup, opt.iters);
            e["timing"] = t.to_json();
            e["tokens_per_s"] = static_cast<double>(batch * length) / (t.median_ms * 1e-3);
            if (is_plan) return;
            const perf::Timing a = time_attention(backend, batch, length);
            const double layers = static_cast<double>(model->config().num_layers);
            e["attention_timing_per_layer"] = a.to_json();
            e["attention_share"] = layers * a.median_ms / t.median_ms;
          });
          fmt::print("prefill {:<10} B={:<3} L={:<5} {}\n", backend, batch, length, summary(e, "tokens_per_s", "tok/s"));
          std::fflush(stdout);
          doc["prefill"].push_back(e);
        }
  }

  // Time to first token of one request: the prompt's prefill plus the greedy pick of the first token, ended
  // when the token id is on the host.
  void ttft() {
    for (int64_t length : opt.lengths)
      for (const std::string& backend : opt.backends) {
        json e = {{"key", fmt::format("ttft/{}/{}", backend, config_name(1, length))},
                  {"backend", backend}, {"batch", 1}, {"length", length}};
        guarded(e, fmt::format("ttft L={}", length), [&] {
          model->set_attention({backend, {}});
          std::vector<at::Tensor> tokens;
          for (int i = 0; i < kInputSets; ++i) tokens.push_back(random_tokens(1, length));
          const perf::Timing t = perf::time_host_calls(
              [&](int i) { model->forward(tokens[i % kInputSets]).select(1, length - 1).argmax(-1).item<int64_t>(); },
              opt.warmup, opt.iters);
          e["timing"] = t.to_json();
        });
        doc["ttft"].push_back(e);
      }
  }

  // The attention calls of one decode step alone, as the static step makes them: per layer its own cache (so
  // that small caches are not served from L2 more than in the model), q [B, 1, Hq, D], the first `bucket` keys
  // with kv_lengths = context + 1, replayed as one CUDA graph of all layers where the backend takes kv_lengths
  // on CUDA (launched call by call otherwise, keys sliced to the length).
  perf::Timing time_decode_attention(const std::string& backend, int64_t batch, int64_t context, int64_t capacity) const {
    const auto& c = model->config();
    const auto fp16 = at::TensorOptions().dtype(at::kHalf).device(at::kCUDA);
    const int64_t bucket = sageval::model::decode_key_bucket(context + 1, capacity);
    std::vector<std::array<at::Tensor, 2>> caches;
    for (int64_t l = 0; l < c.num_layers; ++l)
      caches.push_back({at::randn({batch, bucket, c.num_kv_heads, c.head_dim}, fp16),
                        at::randn({batch, bucket, c.num_kv_heads, c.head_dim}, fp16)});
    const at::Tensor q = at::randn({batch, 1, c.num_heads, c.head_dim}, fp16);
    auto b = sageval::make_backend(backend);
    sageval::AttentionOptions o = timed_attention_options();
    const bool static_cache = b->capabilities().cuda_kv_lengths;
    if (static_cache) o.kv_lengths = at::full({batch}, context + 1, at::TensorOptions().dtype(at::kInt).device(at::kCUDA));
    auto layers = [&] {
      at::Tensor out;
      for (const auto& [k, v] : caches)
        out = static_cache ? b->forward(q, k, v, o).out
                           : b->forward(q, k.slice(1, 0, context + 1), v.slice(1, 0, context + 1), o).out;
      return out;
    };
    if (!static_cache) return perf::time_gpu_calls([&](int) { layers(); }, opt.warmup, opt.iters);
    sageval::model::CapturedCall graph(layers, sageval::model::new_graph_pool());
    return perf::time_gpu_calls([&](int) { graph.replay(); }, opt.warmup, opt.iters);
  }

  // Decode steps as serving engines run them (LlamaModel::decode: a CUDA graph per key bucket where the backends
  // allow), the cache filled to the context by a prefill; then the attention of a step alone (above): its share
  // of the step and the bandwidth it reaches reading the cache, against the copy measured in this run.
  void decode() {
    const auto& c = model->config();
    const double copy = doc["copy_bandwidth"].value("gb_per_s_median", 0.0);
    for (int64_t batch : opt.decode_batches)
      for (int64_t length : opt.decode_lengths)
        for (const std::string& backend : opt.backends) {
          json e = {{"key", fmt::format("decode/{}/{}", backend, config_name(batch, length))},
                    {"backend", backend}, {"batch", batch}, {"context", length}};
          guarded(e, fmt::format("decode B={} context={}", batch, length), [&] {
            model->set_attention({backend, {}});
            const int64_t capacity = length + opt.warmup + opt.iters;
            // The model's cache stays alive while the attention's own caches are timed: freed first (and the
            // cached blocks released), the same attention calls measured 1.66 instead of 1.45 ms at batch 32 and
            // 32K (H200, 2026-11-29, in separate processes; why is not known), while the step that contains them
            // took 1.94 ms either way.
            auto cache = model->make_cache(batch, capacity);
            model->forward(random_tokens(batch, length), &cache);  // fills the cache to the context length
            std::vector<at::Tensor> next;
            for (int i = 0; i < kInputSets; ++i) next.push_back(random_tokens(batch, 1));
            const perf::Timing t =
                perf::time_gpu_calls([&](int i) { model->decode(next[i % kInputSets], cache); }, opt.warmup, opt.iters);
            e["decode_mode"] = sageval::model::to_string(model->decode_mode_used(cache));
            if (const std::string why = model->decode_fallback_reason(cache); !why.empty()) e["decode_mode_reason"] = why;
            e["graphs_captured"] = cache.captured_graphs();
            e["timing"] = t.to_json();
            e["tokens_per_s"] = static_cast<double>(batch) / (t.median_ms * 1e-3);
            const perf::Timing a = time_decode_attention(backend, batch, length, capacity);
            // The floor of decode attention: reading K and V of the filled cache once per layer.
            const double bytes = 2.0 * c.num_layers * batch * (length + 1) * c.num_kv_heads * c.head_dim * 2;
            e["attention_timing"] = a.to_json();
            e["attention_share"] = a.median_ms / t.median_ms;
            e["attention_ms"] = a.median_ms;
            e["rest_ms"] = t.median_ms - a.median_ms;
            e["attention_cache_bytes"] = bytes;
            e["attention_gb_per_s"] = sageval::bench::gb_per_s(bytes, a.median_ms);
            if (copy > 0) e["attention_fraction_of_copy"] = sageval::bench::gb_per_s(bytes, a.median_ms) / copy;
          });
          fmt::print("decode  {:<10} B={:<3} C={:<6} {}{}\n", backend, batch, length, summary(e, "tokens_per_s", "tok/s"),
                     e["status"] == "ok"
                         ? fmt::format(", {}, attention {:.3f} ms ({:.0f}% of the step, {:.0f} GB/s = {:.0f}% of copy)",
                                       e["decode_mode"].get<std::string>(), e["attention_ms"].get<double>(),
                                       100 * e["attention_share"].get<double>(), e["attention_gb_per_s"].get<double>(),
                                       100 * e.value("attention_fraction_of_copy", 0.0))
                         : std::string());
          std::fflush(stdout);
          doc["decode"].push_back(e);
        }
  }

  // Peak of one operation: the caching allocator's peak above what was allocated before it, and the driver's
  // used memory before, right after (results still alive) and after the results are freed.
  json measure_memory(const std::function<at::Tensor()>& op) const {
    perf::release_cached_gpu_memory();
    const perf::GpuMemory before = perf::gpu_memory_now();
    perf::reset_gpu_peak();
    at::Tensor result = op();
    const perf::GpuMemory during = perf::gpu_memory_now();
    result = at::Tensor();
    const perf::GpuMemory after = perf::gpu_memory_now();
    return {{"peak_bytes", during.peak_allocated - before.allocated},
            {"device_used_before", before.device_used},
            {"device_used_during", during.device_used},
            {"device_used_after", after.device_used},
            {"allocated_after", after.allocated - before.allocated}};
  }

  void memory() {
    const auto& c = model->config();
    for (const std::string& backend : opt.backends)
      for (int64_t length : opt.memory_lengths) {
        const int64_t batch = 1;
        json e = {{"backend", backend}, {"batch", batch}, {"length", length}};
        guarded(e, fmt::format("memory L={}", length), [&] {
          model->set_attention({backend, {}});
          const auto fp16 = at::TensorOptions().dtype(at::kHalf).device(at::kCUDA);
          at::Tensor q = at::randn({batch, length, c.num_heads, c.head_dim}, fp16);
          at::Tensor k = at::randn({batch, length, c.num_kv_heads, c.head_dim}, fp16), v = at::randn_like(k);
          auto b = sageval::make_backend(backend);
          sageval::AttentionOptions o;
          o.causal = true;
          o.layout = sageval::Layout::NHD;
          o.check_finite = false;
          e["attention_call"] = measure_memory([&] { return b->forward(q, k, v, o).out; });
          e["attention_call"]["inputs_bytes"] = (q.numel() + k.numel() + v.numel()) * 2;
          e["attention_call"]["output_bytes"] = q.numel() * 2;
          e["sage_int8_workspace_bytes"] =
              backend == "sage_int8"
                  ? perf::sage_int8_workspace_bytes({batch, c.num_heads, c.num_kv_heads, length, length, c.head_dim}, false)
                  : 0;
          at::Tensor tokens = random_tokens(batch, length);
          e["prefill"] = measure_memory([&] { return model->forward(tokens); });
          auto cache = model->make_cache(batch, length + 1);
          model->forward(tokens.slice(1, 0, length - 1), &cache);
          e["decode_step"] = measure_memory([&] { return model->forward(tokens.slice(1, length - 1), &cache); });
          e["kv_cache_bytes"] = 2 * c.num_layers * batch * (length + 1) * c.num_kv_heads * c.head_dim * 2;
        });
        doc["memory"].push_back(e);
      }
  }

  static std::string summary(const json& e, const char* figure, const char* unit) {
    if (e["status"] != "ok") return fmt::format("{}: {}", e["status"].get<std::string>(), e.value("message", ""));
    return fmt::format("{:.0f} {} (median {:.3f} ms)", e[figure].get<double>(), unit, e["timing"]["median_ms"].get<double>());
  }
};

// Median tokens/s of `backend` at (batch, length) in a section; NaN where it did not run.
double figure(const json& section, const std::string& backend, int64_t batch, int64_t length, const char* len_key) {
  for (const json& e : section)
    if (e["backend"] == backend && e["batch"] == batch && e[len_key] == length && e["status"] == "ok")
      return e["tokens_per_s"].get<double>();
  return NAN;
}

void print_throughput_table(const char* title, const json& section, const Options& opt,
                            const std::vector<int64_t>& batches, const std::vector<int64_t>& lengths, const char* len_key) {
  fmt::print("\n{} (tokens/s, median)\n{:>4} {:>6}", title, "B", len_key);
  for (const std::string& b : opt.backends) fmt::print(" {:>12}", b);
  const bool ratios = std::count(opt.backends.begin(), opt.backends.end(), "sage_int8") > 0;
  if (ratios) fmt::print(" {:>11} {:>11}", "int8/fp16", "int8/sdpa");
  for (int64_t batch : batches)
    for (int64_t length : lengths) {
      fmt::print("\n{:>4} {:>6}", batch, length);
      for (const std::string& b : opt.backends) {
        const double x = figure(section, b, batch, length, len_key);
        fmt::print(" {:>12}", std::isnan(x) ? std::string("-") : fmt::format("{:.0f}", x));
      }
      if (ratios) {
        const double s = figure(section, "sage_int8", batch, length, len_key);
        for (const char* ref : {"fp16", "sdpa"}) {
          const double r = s / figure(section, ref, batch, length, len_key);
          fmt::print(" {:>11}", std::isnan(r) ? std::string("-") : fmt::format("{:.3f}", r));
        }
      }
    }
  fmt::print("\n");
}

// Per decode configuration and backend: step time, the attention's part of it and its bandwidth against the copy.
void print_decode_split(const json& section, const Options& opt) {
  fmt::print("\nDecode step (ms, median): attention alone, its share, its bandwidth as % of the copy\n{:>4} {:>6}", "B",
             "context");
  for (const std::string& b : opt.backends) fmt::print(" {:>32}", b);
  for (int64_t batch : opt.decode_batches)
    for (int64_t length : opt.decode_lengths) {
      fmt::print("\n{:>4} {:>6}", batch, length);
      for (const std::string& b : opt.backends) {
        std::string cell = "-";
        for (const json& e : section)
          if (e["backend"] == b && e["batch"] == batch && e["context"] == length && e["status"] == "ok")
            cell = fmt::format("{:.3f} / {:.3f} {:>3.0f}% {:>3.0f}%{}", e["timing"]["median_ms"].get<double>(),
                               e["attention_ms"].get<double>(), 100 * e["attention_share"].get<double>(),
                               100 * e.value("attention_fraction_of_copy", 0.0),
                               e["decode_mode"] == "graph" ? "" : " (eager)");
        fmt::print(" {:>32}", cell);
      }
    }
  fmt::print("\n");
}

void print_memory_table(const json& section) {
  fmt::print("\nPeak memory above the inputs (MiB, caching allocator), batch 1\n{:>10} {:>6} {:>10} {:>10} {:>10} {:>10}\n",
             "backend", "L", "attention", "workspace", "prefill", "decode");
  for (const json& e : section) {
    if (e["status"] != "ok") {
      fmt::print("{:>10} {:>6} {}\n", e["backend"].get<std::string>(), e["length"].get<int64_t>(), e.value("message", ""));
      continue;
    }
    auto mib = [](const json& bytes) { return bytes.get<double>() / (1 << 20); };
    fmt::print("{:>10} {:>6} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f}\n", e["backend"].get<std::string>(),
               e["length"].get<int64_t>(), mib(e["attention_call"]["peak_bytes"]), mib(e["sage_int8_workspace_bytes"]),
               mib(e["prefill"]["peak_bytes"]), mib(e["decode_step"]["peak_bytes"]));
  }
}

// Every figure of an "ok" entry finite and positive (memory: non-negative): the check the perf ctest makes.
std::vector<std::string> malformed_figures(const json& doc) {
  std::vector<std::string> bad;
  auto check = [&](const json& v, const std::string& where, bool allow_zero) {
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0 || (!allow_zero && v.get<double>() == 0))
      bad.push_back(fmt::format("{} = {}", where, v.dump()));
  };
  for (const char* section : {"prefill", "decode", "ttft"})
    for (const json& e : doc.value(section, json::array())) {
      if (e["status"] != "ok") continue;
      for (const char* k : {"median_ms", "min_ms", "max_ms"}) check(e["timing"][k], e["key"].get<std::string>() + " " + k, false);
      if (e.contains("tokens_per_s")) check(e["tokens_per_s"], e["key"].get<std::string>() + " tokens_per_s", false);
      if (e.contains("attention_share")) check(e["attention_share"], e["key"].get<std::string>() + " attention_share", false);
    }
  for (const json& e : doc.value("memory", json::array())) {
    if (e["status"] != "ok") continue;
    for (const char* part : {"attention_call", "prefill", "decode_step"})
      check(e[part]["peak_bytes"], fmt::format("memory {} L={} {}", e["backend"].get<std::string>(), e["length"].get<int64_t>(), part), true);
  }
  return bad;
}

int run(const Options& opt) {
  c10::InferenceMode inference;
  sageval::model::LoadOptions lo;
  lo.device = at::kCUDA;
  Bench b{opt, sageval::model::LlamaModel::load(opt.model, lo), json::object()};
  const json env = perf::environment_info();
  const auto& cfg = b.model->config();
  b.doc = json::object();
  b.doc["benchmark"] = "sageval_model_bench";
  b.doc["environment"] = env;
  b.doc["model"] = opt.model;
  b.doc["model_config"] = {{"layers", cfg.num_layers}, {"hidden", cfg.hidden_size}, {"heads_q", cfg.num_heads},
                           {"heads_kv", cfg.num_kv_heads}, {"head_dim", cfg.head_dim}, {"dtype", "float16"}};
  b.doc["method"] = {{"warmup", opt.warmup},
                     {"iters", opt.iters},
                     {"input_sets", kInputSets},
                     {"timer", "CUDA events around each call (ttft: host clock, device synchronized)"},
                     {"attention_share", "backend alone on the model's q/k/v shapes x layers / prefill median"},
                     {"decode", "LlamaModel::decode (CUDA graph per key bucket where the backends take kv_lengths); "
                                "decode attention: every layer's call on its own cache, one graph, over the step median; "
                                "GB/s: K and V of the filled cache read once per layer"}};
  for (const char* section : {"prefill", "decode", "ttft", "memory"}) b.doc[section] = json::array();
  if (!opt.plan_path.empty()) {
    b.plan = sageval::eval::read_precision_plan(opt.plan_path, cfg.num_layers);
    b.doc["precision_plan"] = b.plan->to_json();
    fmt::print("precision plan {}: prefill timed as '{}'\n", opt.plan_path, b.plan->label());
  }
  fmt::print("device: {}\nmodel: {} ({} layers, hidden {}, {}q/{}kv heads of {})\nbaseline in this run: fp16 and sdpa\n",
             perf::describe_device(env), opt.model, cfg.num_layers, cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads,
             cfg.head_dim);
  const std::string dir = opt.json_path.substr(0, opt.json_path.find_last_of('/'));
  if (!dir.empty() && dir != opt.json_path) std::filesystem::create_directories(dir);
  if (!opt.decode_only) {
    b.prefill();
    if (b.plan) {  // the plan's cost: its prefill tokens/s over its candidate's everywhere, same run
      const std::string candidate = b.plan->candidate;
      for (int64_t batch : opt.batches)
        for (int64_t length : opt.lengths) {
          const double with_plan = figure(b.doc["prefill"], b.plan->label(), batch, length, "length");
          const double everywhere = figure(b.doc["prefill"], candidate, batch, length, "length");
          fmt::print("prefill B={} L={}: {} {:.0f} tok/s, {} everywhere {:.0f} tok/s: ratio {:.3f}\n", batch, length,
                     b.plan->label(), with_plan, candidate, everywhere, with_plan / everywhere);
        }
    }
    sageval::bench::write_json(opt.json_path, b.doc);
  }
  if (!opt.prefill_only) {
    if (!opt.decode_only) b.ttft();
    b.doc["copy_bandwidth"] = sageval::bench::measure_copy_bandwidth(opt.warmup, opt.iters);
    fmt::print("copy bandwidth (1 GiB device to device, read + write): {:.0f} GB/s\n",
               b.doc["copy_bandwidth"].value("gb_per_s_median", 0.0));
    b.decode();
    sageval::bench::write_json(opt.json_path, b.doc);
    if (!opt.decode_only) b.memory();
  }
  if (!opt.decode_only) print_throughput_table("Prefill", b.doc["prefill"], opt, opt.batches, opt.lengths, "length");
  if (!opt.prefill_only) {
    print_throughput_table("Decode", b.doc["decode"], opt, opt.decode_batches, opt.decode_lengths, "context");
    print_decode_split(b.doc["decode"], opt);
    if (!opt.decode_only) print_memory_table(b.doc["memory"]);
  }
  int status = 0;
  const std::vector<std::string> bad = malformed_figures(b.doc);
  for (const std::string& s : bad) fmt::print("malformed figure: {}\n", s);
  if (!bad.empty()) status = 1;
  if (!opt.baseline_path.empty()) {
    std::ifstream f(opt.baseline_path);
    if (!f) throw std::runtime_error("--baseline: cannot read " + opt.baseline_path);
    const json old = json::parse(f);
    const auto changes = perf::compare_timings(perf::timed_figures_of(old), perf::timed_figures_of(b.doc), opt.margin);
    b.doc["baseline"] = {{"path", opt.baseline_path}, {"changes", json::array()}};
    int regressions = 0;
    for (const auto& c : changes) {
      b.doc["baseline"]["changes"].push_back(perf::to_json(c));
      if (c.regressed) {
        ++regressions;
        fmt::print("REGRESSION {}: {} (median {:.3f} -> {:.3f} ms, {:+.1f}% > margin {:.1f}%)\n", c.key, c.status,
                   c.old_median_ms, c.new_median_ms, 100 * c.change, 100 * c.margin);
      }
    }
    fmt::print("baseline {}: {} configurations compared, {} regressions\n", opt.baseline_path, changes.size(), regressions);
    if (regressions > 0 && status == 0) status = 3;
  }
  sageval::bench::write_json(opt.json_path, b.doc);
  fmt::print("wrote {}\n", opt.json_path);
  return status;
}
#endif  // SAGEVAL_WITH_CUDA_KERNELS

}  // namespace

int main(int argc, char** argv) {
  return sageval::bench::bench_main<Options>(argc, argv, kDescription, add_options, finish_options,
                                             SAGEVAL_BENCH_RUN(run));
}
