// `sageval backends`: what this build offers. `sageval check`: one backend against float64 `math` on every
// input family, judged by the attention harness with the test suites' gates.
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "sageval/app/options.h"
#include "sageval/eval/attention_harness.h"
#include "sageval/torch_compat.h"

namespace sageval::cli {
namespace {

int run_backends() {
  fmt::print("libtorch {}\n", SAGEVAL_TORCH_VERSION_STRING);
  for (const auto& name : list_backends()) {
    const BackendCapabilities caps = make_backend(name)->capabilities();
    std::vector<std::string> dtypes;
    for (auto t : caps.dtypes) dtypes.emplace_back(c10::toString(t));
    fmt::print("{:<10} {}\n           head dims: {}; dtypes: {}; cpu: {}; cuda: {}; lse: {}\n", name, caps.description,
               caps.head_dims.empty() ? "any" : fmt::format("{}", fmt::join(caps.head_dims, ", ")),
               fmt::join(dtypes, ", "), caps.cpu ? "yes" : "no", caps.cuda ? "yes" : "no", caps.lse ? "yes" : "no");
  }
  return 0;
}

struct CheckOptions {
  std::string backend = "sage_int8";
  int64_t batch = 1, heads_q = 8, heads_kv = 2, len_q = 1024, len_k = -1;
  int head_dim = 128;
  std::string dtype = "fp16", layout = "HND", device = "cpu", report_dir;
  bool causal = false;
};

int run_check(const CheckOptions& o) {
  // One case of the harness's table per input family.
  eval::AttentionCase base;
  base.batch = o.batch;
  if (o.heads_q % o.heads_kv != 0)
    throw std::invalid_argument(fmt::format("--heads-q ({}) must be a multiple of --heads-kv ({})", o.heads_q, o.heads_kv));
  base.heads_kv = o.heads_kv;
  base.gqa = static_cast<int>(o.heads_q / o.heads_kv);
  base.len_q = o.len_q;
  base.len_k = o.len_k < 0 ? o.len_q : o.len_k;
  base.head_dim = o.head_dim;
  base.dtype = app::parse_dtype(o.dtype);
  base.layout = o.layout == "HND" ? Layout::HND : Layout::NHD;
  base.causal = o.causal;
  const at::Device device(o.device);

  fmt::print("backend {} vs math on {}\n", o.backend, device.str());
  fmt::print("{:<48} {:>10} {:>9} {:>10} {:>10} {:>10}  {}\n", "case", "cosine", "rel_L1", "max_abs", "worst_row",
             "lse_err", "gates");
  nlohmann::json record = {{"suite", "attention_check"}, {"backend", o.backend}, {"baseline", "math"},
                           {"device", device.str()},     {"cases", nlohmann::json::array()}};
  bool all_pass = true;
  for (auto family : all_input_families()) {
    eval::AttentionCase c = base;
    c.family = family;
    const eval::CaseResult r = eval::run_attention_case(c, o.backend, eval::Reference::kMath, device);
    const bool judged = r.gates.size() > 1;  // more than the finite-output gate
    const std::string verdict = !r.pass() ? "FAIL" : judged ? "pass" : "finite (no thresholds)";
    all_pass = all_pass && r.pass();
    fmt::print("{:<48} {:>10.6f} {:>9.5f} {:>10.3e} {:>10.6f} {:>10.3e}  {}\n", c.name(), r.stats.cosine,
               r.stats.rel_l1, r.stats.max_abs, r.stats.worst_row_cosine, r.lse_max_abs, verdict);
    for (const Gate& g : r.gates)
      if (!g.pass) fmt::print("    {}\n", g.describe());
    for (const std::string& copy : r.input_copies) fmt::print("    {}\n", copy);
    record["cases"].push_back(to_json(r.to_record("attention_check")));
  }
  if (!o.report_dir.empty()) {
    const std::string path = fmt::format("{}/attention_check_{}.json", o.report_dir, o.backend);
    std::ofstream f(path);
    f << record.dump(2) << "\n";
    if (!f) throw std::runtime_error(fmt::format("cannot write '{}'", path));
    fmt::print("record: {}\n", path);
  }
  fmt::print("verdict: {}\n", all_pass ? "pass" : "FAIL");
  return all_pass ? 0 : app::kExitFail;
}

}  // namespace

void add_backends_command(CLI::App& app, Run& run) {
  app.add_subcommand("backends", "list the attention backends of this build and what they support")
      ->callback([&run] { run = run_backends; });
}

void add_check_command(CLI::App& app, Run& run) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* sub = app.add_subcommand("check", "accuracy of one backend against float64 `math` on every input family "
                                              "(exit 0 pass, 1 FAIL)");
  app::add_backend_option(*sub, o->backend, "the backend to check");
  sub->add_option("--head-dim", o->head_dim)->check(CLI::IsMember({64, 128}))->capture_default_str();
  sub->add_option("--len-q", o->len_q)->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--len-k", o->len_k, "default: --len-q")->check(CLI::PositiveNumber);
  sub->add_option("--heads-q", o->heads_q)->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--heads-kv", o->heads_kv)->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--batch", o->batch)->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--dtype", o->dtype)->check(CLI::IsMember({"fp16", "bf16"}))->capture_default_str();
  sub->add_option("--layout", o->layout)->check(CLI::IsMember({"HND", "NHD"}))->capture_default_str();
  sub->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  sub->add_flag("--causal", o->causal, "bottom-right aligned causal mask");
  sub->add_option("--report-dir", o->report_dir, "also write attention_check_<backend>.json there")
      ->check(CLI::ExistingDirectory);
  sub->callback([o, &run] { run = [o] { return run_check(*o); }; });
}

}  // namespace sageval::cli
