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
#include "sageval/eval/attention_harness.h"
#include "sageval/record.h"
#include "sageval/metrics.h"
#include "sageval/thresholds.h"
#include "sageval/torch_compat.h"
#include "cli/args.h"

namespace {

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
  // One case of the harness's table per input family; the harness judges it as the test suites do.
  sageval::eval::AttentionCase base;
  base.batch = args.integer("batch", 1);
  const int64_t heads_q = args.integer("heads-q", 8);
  base.heads_kv = args.integer("heads-kv", 2);
  if (base.heads_kv <= 0 || heads_q <= 0 || heads_q % base.heads_kv != 0)
    throw std::invalid_argument(fmt::format("--heads-q ({}) must be a positive multiple of --heads-kv ({})", heads_q,
                                            base.heads_kv));
  base.gqa = static_cast<int>(heads_q / base.heads_kv);
  base.len_q = args.integer("len-q", 1024);
  base.len_k = args.integer("len-k", base.len_q);
  base.head_dim = static_cast<int>(args.integer("head-dim", 128));
  base.dtype = parse_dtype(args.get("dtype", "fp16"));
  const std::string layout_name = args.get("layout", "HND");
  if (layout_name != "HND" && layout_name != "NHD")
    throw std::invalid_argument(fmt::format("--layout '{}' is not HND or NHD", layout_name));
  base.layout = layout_name == "HND" ? sageval::Layout::HND : sageval::Layout::NHD;
  base.causal = args.flag("causal");
  const at::Device device(args.get("device", "cpu"));

  fmt::print("backend {} vs math on {}\n", backend_name, device.str());
  fmt::print("{:<48} {:>10} {:>9} {:>10} {:>10} {:>10}  {}\n", "case", "cosine", "rel_L1", "max_abs", "worst_row",
             "lse_err", "gates");
  nlohmann::json record = {{"suite", "attention_check"}, {"backend", backend_name}, {"baseline", "math"},
                           {"device", device.str()},     {"cases", nlohmann::json::array()}};
  bool all_pass = true;
  for (auto family : sageval::all_input_families()) {
    sageval::eval::AttentionCase c = base;
    c.family = family;
    const auto r = sageval::eval::run_attention_case(c, backend_name, sageval::eval::Reference::kMath, device);
    const bool judged = r.gates.size() > 1;  // more than the finite-output gate
    const std::string verdict = !judged ? (r.pass() ? "finite (no thresholds)" : "FAIL") : (r.pass() ? "pass" : "FAIL");
    all_pass = all_pass && r.pass();
    fmt::print("{:<48} {:>10.6f} {:>9.5f} {:>10.3e} {:>10.6f} {:>10.3e}  {}\n", c.name(), r.stats.cosine,
               r.stats.rel_l1, r.stats.max_abs, r.stats.worst_row_cosine, r.lse_max_abs, verdict);
    for (const auto& g : r.gates)
      if (!g.pass) fmt::print("    {}\n", g.describe());
    for (const auto& copy : r.input_copies) fmt::print("    {}\n", copy);
    record["cases"].push_back(sageval::to_json(r.to_record("attention_check")));
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
      "  report [--dir DIR] [--out FILE] [--no-figures]   REPORT.md and figures from a run's records; exits 0 on\n"
      "        PASS, 1 on FAIL (2: any error, for every command)\n"
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
