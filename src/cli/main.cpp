// `sageval`: the command-line entry point.
//   sageval backends                      list the attention backends of this build and what they support
//   sageval check [options]               accuracy of one backend against `math` on every input family
//   sageval report [--dir D] / --compare OLD NEW   the validation report, or the difference of two runs
// Common option: --attention-backend NAME (or SAGEVAL_ATTENTION_BACKEND).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "sageval/attention.h"
#include "sageval/attention_inputs.h"
#include "sageval/metrics.h"
#include "sageval/thresholds.h"
#include "sageval/torch_compat.h"
#include "cli/args.h"

namespace {

using sageval::AttentionOptions;
using sageval::cli::Args;
using sageval::cli::parse_args;
using sageval::cli::parse_dtype;

int cmd_backends() {
  fmt::print("libtorch {}\n", SAGEVAL_TORCH_VERSION_STRING);
  for (const auto& name : sageval::list_backends()) {
    auto backend = sageval::make_backend(name);
    auto caps = backend->capabilities();
    std::vector<std::string> dtypes;
    for (auto t : caps.dtypes) dtypes.emplace_back(c10::toString(t));
    fmt::print("{:<10} {}\n           head dims: {}; dtypes: {}; cpu: {}; cuda: {}; lse: {}\n", name,
               caps.description, caps.head_dims.empty() ? "any" : fmt::format("{}", fmt::join(caps.head_dims, ", ")),
               fmt::join(dtypes, ", "), caps.cpu ? "yes" : "no", caps.cuda ? "yes" : "no", caps.lse ? "yes" : "no");
  }
  return 0;
}

int cmd_check(int argc, const char* const* argv) {
  const std::string backend_name = sageval::select_backend_name(argc, argv, "sage_int8");
  Args args = parse_args(argc, argv, 2,
                         {"attention-backend", "head-dim", "len-q", "len-k", "heads-q", "heads-kv", "batch", "dtype",
                          "layout", "device", "report-dir"},
                         {"causal"});
  sageval::AttentionShape shape;
  shape.batch = args.integer("batch", 1);
  shape.heads_q = args.integer("heads-q", 8);
  shape.heads_kv = args.integer("heads-kv", 2);
  shape.len_q = args.integer("len-q", 1024);
  shape.len_k = args.integer("len-k", shape.len_q);
  shape.head_dim = args.integer("head-dim", 128);
  const at::ScalarType dtype = parse_dtype(args.get("dtype", "fp16"));
  const std::string layout_name = args.get("layout", "HND");
  if (layout_name != "HND" && layout_name != "NHD")
    throw std::invalid_argument(fmt::format("--layout '{}' is not HND or NHD", layout_name));
  AttentionOptions options;
  options.layout = layout_name == "HND" ? sageval::Layout::HND : sageval::Layout::NHD;
  options.causal = args.flag("causal");
  const at::Device device(args.get("device", "cpu"));
  auto backend = sageval::make_backend(backend_name);
  auto reference = sageval::make_backend("math");
  const auto& thresholds = sageval::Thresholds::defaults();

  const std::string shape_name =
      fmt::format("D{}_Q{}_K{}_H{}x{}_B{}{}_{}_{}", shape.head_dim, shape.len_q, shape.len_k, shape.heads_q,
                  shape.heads_kv, shape.batch, options.causal ? "_Causal" : "", layout_name, c10::toString(dtype));
  fmt::print("backend {} vs math, {} on {}\n", backend_name, shape_name, device.str());
  fmt::print("{:<12} {:>10} {:>9} {:>10} {:>10} {:>11}  {}\n", "inputs", "cosine", "rel_L1", "rmse", "max_abs",
             "worst_row", "gates");
  nlohmann::json record = {{"suite", "attention_check"}, {"backend", backend_name}, {"baseline", "math"},
                           {"shape", shape_name},        {"device", device.str()},  {"cases", nlohmann::json::array()}};
  bool all_pass = true;
  for (auto family : sageval::all_input_families()) {
    const std::string case_name = fmt::format("{}_{}", shape_name, sageval::to_string(family));
    auto in = sageval::make_attention_inputs(shape, family, dtype, options.layout,
                                             sageval::seed_from_name(case_name), device);
    auto out = backend->forward(in.q, in.k, in.v, options).out;
    auto ref = reference->forward(in.q, in.k, in.v, options).out;
    if (options.layout == sageval::Layout::NHD) {
      out = out.transpose(1, 2);
      ref = ref.transpose(1, 2);
    }
    const auto stats = sageval::compare_tensors(out, ref);
    const std::string key = fmt::format("/attention/{}/{}", backend_name, sageval::to_string(family));
    std::string verdict = "none defined";
    bool pass = stats.nan_count == 0 && stats.inf_count == 0;
    if (auto c = thresholds.find_number(key + "/min_cosine")) pass = pass && stats.cosine >= *c;
    if (auto r = thresholds.find_number(key + "/max_rel_l1")) pass = pass && stats.rel_l1 <= *r;
    if (thresholds.find_number(key + "/min_cosine") || thresholds.find_number(key + "/max_rel_l1")) {
      verdict = pass ? "pass" : "FAIL";
      all_pass = all_pass && pass;
    }
    fmt::print("{:<12} {:>10.6f} {:>9.5f} {:>10.3e} {:>10.3e} {:>11.6f}  {}\n", sageval::to_string(family),
               stats.cosine, stats.rel_l1, stats.rmse, stats.max_abs, stats.worst_row_cosine, verdict);
    record["cases"].push_back({{"inputs", sageval::to_string(family)},
                               {"cosine", stats.cosine},
                               {"rel_l1", stats.rel_l1},
                               {"rmse", stats.rmse},
                               {"max_abs", stats.max_abs},
                               {"worst_head_cosine", stats.worst_head_cosine},
                               {"worst_row_cosine", stats.worst_row_cosine},
                               {"nan", stats.nan_count},
                               {"verdict", verdict}});
  }
  if (args.flag("report-dir")) {
    const std::string path = fmt::format("{}/attention_check_{}.json", args.get("report-dir", "."), backend_name);
    std::ofstream f(path);
    if (!f) throw std::runtime_error(fmt::format("cannot write '{}'", path));
    f << record.dump(2) << "\n";
    fmt::print("record: {}\n", path);
  }
  fmt::print("verdict: {}\n", all_pass ? "pass" : "FAIL");
  return all_pass ? 0 : 1;
}

void usage() {
  std::puts(
      "usage: sageval <command> [options]\n"
      "  backends                       list attention backends\n"
      "  check [--attention-backend NAME] [--head-dim D] [--len-q N] [--len-k N] [--heads-q H] [--heads-kv H]\n"
      "        [--batch B] [--dtype fp16|bf16] [--layout HND|NHD] [--causal] [--device cpu|cuda]\n"
      "        [--report-dir DIR]        accuracy against `math` on every input family\n"
      "  generate --model DIR --prompt TEXT [--attention-backend NAME] [--max-new-tokens N] [--temperature T]\n"
      "        [--seed S] [--device cpu|cuda] [--dtype fp16|bf16|fp32]   greedy or sampled continuation\n"
      "  logits --model DIR (--tokens-file F | --prompt TEXT) --out FILE [--attention-backend NAME] [--device D]\n"
      "        [--dtype D]               float32 logits [T, vocab] as raw little-endian bytes, shape in FILE.json\n"
      "  prefill-speed --model DIR [--batch B] [--tokens T] [--iters N] [--attention-backend NAME] [--device D]\n"
      "        [--dtype D]               median prefill time and tokens/s\n"
      "  nll --model DIR (--data FILE | --tokens-file F) [--context N] [--stride S] [--max-bytes N] [--batch B] [--json OUT] [--attention-backend NAME]\n"
      "        [--device D] [--dtype D]  NLL per token (= per byte for byte-level models), disjoint or sliding windows\n"
      "  report [--dir DIR] [--out FILE] [--no-figures]   REPORT.md and figures from a run's records\n"
      "  report --compare OLD_DIR NEW_DIR [--out FILE]   what changed between two runs");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    if (command == "backends") return cmd_backends();
    if (command == "check") return cmd_check(argc, argv);
    if (command == "generate") return sageval::cli::cmd_generate(argc, argv);
    if (command == "logits") return sageval::cli::cmd_logits(argc, argv);
    if (command == "prefill-speed") return sageval::cli::cmd_prefill_speed(argc, argv);
    if (command == "nll") return sageval::cli::cmd_nll(argc, argv);
    if (command == "report") return sageval::cli::cmd_report(argc, argv);
    fmt::print(stderr, "sageval: unknown command '{}'\n", command);
    usage();
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "sageval {}: error: {}\n", command, e.what());
    return 2;
  }
}
