// `sageval validate`: the main job. Runs every suite this machine can run, each as its own process with its log
// (kernel accuracy, kernel speed, the five model suites, memory, model throughput on a GPU; kernel accuracy on
// the CPU emulations and the model suites at CPU sizes without one), records the run in run.json, renders
// REPORT.md and exits with the verdict: 0 PASS, 1 FAIL, 2 when the job could not run.
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/job_steps.h"
#include "cli/plot_figures.h"
#include "sageval/app/options.h"
#include "sageval/build_paths.h"
#include "sageval/eval/precision_plan.h"
#include "sageval/model/llama_model.h"
#include "sageval/perf/environment.h"
#include "sageval/perf/gpu_devices.h"
#include "sageval/record.h"

namespace sageval::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ValidateOptions {
  std::string model, data, backend = "sage_int8", report_dir = sageval::report_dir();
  std::string precision_plan;  // "", "auto" or a plan file
  bool quick = false;
};

// What a command prints, or "" when it fails.
std::string output_of(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) return "";
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe.get()) != nullptr) out += buf;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The commit before anything runs, so that the run's own output cannot make a clean checkout look changed.
// SAGEVAL_COMMIT names it where git cannot (a copied working tree).
std::string source_commit() {
  if (const char* c = std::getenv("SAGEVAL_COMMIT"); c != nullptr && *c != '\0') return c;
  const std::string git = "git -C " + shell_quoted(SAGEVAL_SOURCE_DIR);
  const std::string commit = output_of(git + " rev-parse --short HEAD 2>/dev/null");
  if (commit.empty()) return "unknown";
  return std::system((git + " diff --quiet HEAD 2>/dev/null").c_str()) == 0 ? commit : commit + " (with local changes)";
}

std::string host() {
  utsname u{};
  ::uname(&u);
  return fmt::format("{} {} {}, {} cores", u.sysname, u.release, u.machine, std::thread::hardware_concurrency());
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%MZ", std::gmtime(&t));
  return buf;
}

std::string absolute(const std::string& path) { return fs::weakly_canonical(fs::absolute(path)).string(); }

// "cuda (2 x NVIDIA H200)", or "cuda (GPUs differ: ...)" when the run's GPUs are not all one model.
std::string describe_gpus(const std::vector<perf::GpuDevice>& gpus) {
  std::vector<std::string> names;
  for (const perf::GpuDevice& g : gpus) names.push_back(g.name);
  if (std::all_of(names.begin(), names.end(), [&](const std::string& n) { return n == names[0]; }))
    return fmt::format("cuda ({} x {})", names.size(), names[0]);
  return fmt::format("cuda (GPUs differ: {})", fmt::join(names, ", "));
}

void set_env(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }
void default_env(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 0); }

int run_validate(const ValidateOptions& o) {
  // Inputs first: every problem is named before anything runs.
  std::string data = o.data;
  if (data.empty()) {
    if (const char* env = std::getenv("SAGEVAL_DATA_DIR"); env != nullptr && *env != '\0') data = env;
  }
  if (data.empty() || !fs::is_directory(data))
    throw std::invalid_argument(fmt::format("no data folder ({}): pass --data DIR or set SAGEVAL_DATA_DIR; "
                                            "scripts/fetch_data.sh downloads WikiText-2 and PTB",
                                            data.empty() ? "none given" : "'" + data + "' is not a folder"));
  const std::string model = o.model.empty() ? model::default_model_dir() : o.model;
  if (!fs::exists(fs::path(model) / "config.json"))
    throw std::invalid_argument(fmt::format("--model '{}' is not a model folder (no config.json)", model));
  std::error_code ec;
  fs::create_directories(o.report_dir, ec);
  const std::string dir = absolute(o.report_dir);
  if (ec || ::access(dir.c_str(), W_OK) != 0)
    throw std::invalid_argument(fmt::format("cannot write to the report directory '{}'", o.report_dir));
  const fs::path bin = SAGEVAL_BINARY_DIR;
  const std::string tests = (bin / "tests").string(), bench = (bin / "bench").string();
  if (!fs::exists(bin / "tests" / "sageval_accuracy_tests"))
    throw std::invalid_argument(fmt::format("the suites of this build are not under {} (build with scripts/build.sh "
                                            "and SAGEVAL_BUILD_TESTS=ON)", tests));
  const std::string commit = source_commit();
  // The candidate is made once here: a py: backend that cannot be imported is named before anything runs.
  const std::string candidate_description = make_backend(o.backend)->capabilities().description;
  const std::string baseline = std::getenv("SAGEVAL_BASELINE") ? std::getenv("SAGEVAL_BASELINE") : "fp16";
  const fs::path sageval_exe = bin / "src" / "sageval";
  if (!o.precision_plan.empty() && o.precision_plan != "auto") {
    // A plan file is checked before anything runs: its fields, its layers against the model, its backends.
    const model::ModelConfig config = model::load_config(model);
    const eval::PrecisionPlan plan = eval::read_precision_plan(o.precision_plan, config.num_layers);
    if (plan.candidate != o.backend || plan.baseline != baseline)
      throw std::invalid_argument(fmt::format("precision plan {} is for {} on {}, this run is {} against {}",
                                              o.precision_plan, plan.candidate, plan.baseline, o.backend, baseline));
  }

  // The suites read their settings from the environment (tests/support/suite_settings.h).
  set_env("SAGEVAL_DATA_DIR", absolute(data));
  set_env("SAGEVAL_MODEL", absolute(model));
  set_env("SAGEVAL_ATTENTION_BACKEND", o.backend);
  set_env("SAGEVAL_REPORT_DIR", dir);
  default_env("OPENBLAS_NUM_THREADS", "1");
  // A step whose every case skipped exits 77 and counts as skipped, which fails the verdict: nothing was checked.
  set_env("SAGEVAL_ALL_SKIPPED_EXIT_CODE", std::to_string(app::kExitNoGpu));
  // A fresh run: records of earlier runs would mix into this report. Only what a run writes is removed, and not
  // the last finished run's REPORT.md and figures: they stay whole until this run has finished and replaces them
  // (a run that does not finish writes REPORT.incomplete.md instead).
  for (const char* f : {"attention_kernel_bench.json", "model_bench.json", "sageval_attention_bench_quick.json",
                        "sageval_model_bench_quick.json", "run.json", "figures.log", "precision_plan.json",
                        "model_bench_plan.json"})
    fs::remove(fs::path(dir) / f);
  remove_tree((fs::path(dir) / "logs").string());
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".jsonl") fs::remove(entry.path());
  fs::create_directories(fs::path(dir) / "logs");
  // Until the end replaces it, run.json says the run has not finished: a run killed outright (SIGKILL, a machine
  // gone) leaves that, and `sageval report` then marks its report incomplete.
  const std::string started = utc_now();
  auto write_unfinished_run = [&](const std::string& why) {
    write_file_atomically(dir + "/run.json", json{{"commit", commit}, {"date", started}, {"candidate", o.backend},
                                                   {"baseline", baseline}, {"quick", o.quick}, {"incomplete", {why}}}
                                                 .dump(2) + "\n");
  };
  write_unfinished_run(fmt::format("the main job started at {} (UTC) has not finished: it is still running, or it "
                                   "was killed before it could say why", started));

  std::string why_no_gpu;
  if (!at::hasCUDA())
    why_no_gpu = "no NVIDIA GPU visible to libtorch (no GPU or driver on this machine, or a CPU-only libtorch)";
  else if (!make_backend(o.backend)->capabilities().cuda)
    why_no_gpu = fmt::format("this build has no CUDA path for {}", o.backend);
  const bool gpu = why_no_gpu.empty();
  fmt::print("== device: {}{}; candidate {}, baseline {}; quick={}\n", gpu ? "cuda" : "cpu",
             gpu ? "" : " (" + why_no_gpu + ")", o.backend, baseline, o.quick ? 1 : 0);

  // With several GPUs visible the lanes run at once, one per GPU (CUDA_VISIBLE_DEVICES narrows the set).
  const std::vector<perf::GpuDevice> gpus = gpu ? perf::visible_gpus() : std::vector<perf::GpuDevice>{};
  Job job(dir);
  const std::string model_suites = "Suite/Perplexity.*:Suite/ContextLength.*:Suite/ActivationDrift.*:Suite/LogitsDiff.*:Generation.*";
  const std::string kernel_filter = o.quick ? "*D128*" : "*";
  auto step = [](std::string name, std::string log, std::string exe, std::vector<std::string> args) {
    return JobStep{std::move(name), std::move(log), std::move(exe), std::move(args), {}, {}, nullptr};
  };
  // --precision-plan: the model suites once more with the plan, in a lane of their own (the candidate-everywhere
  // run's verdict stays in the report beside the plan's). "auto" first finds the plan on the context-length
  // suite's data at this run's sizes: windows of 1024 bytes (or the longest suite length below that), as many as
  // the suite scores tokens for.
  const std::string plan_file =
      o.precision_plan.empty() ? "" : absolute(o.precision_plan == "auto" ? dir + "/precision_plan.json" : o.precision_plan);
  auto plan_lane = [&](const std::string& suite_exe, double expected_seconds) {
    JobLane lane{{}, expected_seconds};
    if (o.precision_plan == "auto") {
      int64_t length = 1024;
      if (const char* lengths = std::getenv("SAGEVAL_SUITE_LENGTHS"); lengths != nullptr && *lengths != '\0') {
        int64_t longest = 0;
        std::stringstream in(lengths);
        for (std::string item; std::getline(in, item, ',');)
          if (const int64_t l = std::stoll(item); l <= 1024) longest = std::max(longest, l);
        if (longest >= 2) length = longest;
      }
      const char* tokens_env = std::getenv("SAGEVAL_SUITE_TOKENS");
      const int64_t tokens = tokens_env != nullptr ? std::stoll(tokens_env) : (gpu ? 65536 : 2048);
      const int64_t scored = length - length / 2;
      const int64_t windows = std::max<int64_t>(1, (tokens + scored - 1) / scored);
      JobStep search = step("precision plan (auto)", "precision_plan.log", sageval_exe.string(),
                            {"plan", "--model", absolute(model), "--attention-backend", o.backend, "--baseline", baseline,
                             "--device", gpu ? "cuda" : "cpu", "--length", std::to_string(length), "--windows",
                             std::to_string(windows), "--out", plan_file});
      search.tags = {"precision_plan"};
      // 0: a plan that passes; 1: the best plan found does not pass (the suites then show how far off it is);
      // anything else: no plan was made, and its log says why.
      search.lane_continues = [plan_file](int rc) { return (rc == 0 || rc == 1) && fs::exists(plan_file); };
      lane.steps.push_back(search);
    }
    // The cases against math do not involve the candidate: the candidate-everywhere run has them.
    JobStep suites = step("model suites with the precision plan", "model_suites_plan.log", suite_exe,
                          {"--gtest_filter=" + model_suites + "-*BaselineVsMath*"});
    suites.env = {{"SAGEVAL_PRECISION_PLAN", plan_file}};
    suites.tags = {"precision_plan"};
    lane.steps.push_back(suites);
    if (gpu) {  // the plan's speed cost: prefill with the plan beside the candidate everywhere and the baseline
      std::vector<std::string> args = {"--prefill-only", "--backends", o.backend + "," + baseline, "--precision-plan",
                                       plan_file, "--lengths", o.quick ? "2048" : "2048,8192", "--batches", "1",
                                       "--model", absolute(model), "--json", dir + "/model_bench_plan.json"};
      JobStep cost = step("precision plan: prefill cost", "model_bench_plan.log", bench + "/sageval_model_bench", args);
      cost.tags = {"precision_plan"};
      lane.steps.push_back(cost);
    }
    return lane;
  };
  auto model_suites_step = [&](std::string name, const std::string& suite_exe) {
    JobStep s = step(std::move(name), "model_suites.log", suite_exe, {"--gtest_filter=" + model_suites});
    if (!o.precision_plan.empty()) s.tags = {"replaced_by_plan"};
    return s;
  };
  // In the report's order; the expected seconds (which lanes start first on several GPUs) are the steps' times in
  // a full run on one H200 (docs/measurements/h200_ctest_resource_groups_2026-11-29.md).
  std::vector<JobLane> lanes;
  if (gpu) {
    if (o.quick) {
      default_env("SAGEVAL_SUITE_MAX_BYTES", "262144");
      default_env("SAGEVAL_SUITE_TOKENS", "16384");
      default_env("SAGEVAL_SUITE_PROMPTS", "4");
    }
    std::vector<std::string> quick;
    if (o.quick) quick.push_back("--quick");
    lanes.push_back({{step("kernel accuracy (CUDA)", "kernel_accuracy.log", tests + "/sageval_gpu_tests",
                           {"--gtest_filter=" + kernel_filter})}, 34});
    auto kernel_bench = quick;
    kernel_bench.insert(kernel_bench.end(), {"--json", dir + "/attention_kernel_bench.json"});
    // A candidate other than sageval's own kernels (e.g. a py: backend) is timed in the same run, end to end.
    if (o.backend != "sage_int8" && o.backend != "fp16") kernel_bench.insert(kernel_bench.end(), {"--backends", o.backend});
    lanes.push_back({{step("kernel speed", "kernel_speed.log", bench + "/sageval_attention_bench", kernel_bench)}, 48});
    lanes.push_back({{model_suites_step("model suites (GPU sizes)", tests + "/sageval_model_gpu_tests")}, 64});
    // The plan's search has no GPU timing yet: its lane is taken as twice the model suites' (it runs them again).
    if (!o.precision_plan.empty()) lanes.push_back(plan_lane(tests + "/sageval_model_gpu_tests", 2 * 64));
    lanes.push_back({{step("memory and leak checks", "memory.log", tests + "/sageval_perf_tests", {})}, 3});
    // fp16, the candidate and libtorch's SDPA where this libtorch has it, each once.
    std::vector<std::string> backends = {"fp16"};
    if (o.backend != "fp16") backends.push_back(o.backend);
    if (has_backend("sdpa") && o.backend != "sdpa") backends.push_back("sdpa");
    auto model_bench = quick;
    model_bench.insert(model_bench.end(), {"--backends", fmt::format("{}", fmt::join(backends, ",")), "--model",
                                           absolute(model), "--json", dir + "/model_bench.json"});
    lanes.push_back({{step("model throughput and memory", "model_bench.log", bench + "/sageval_model_bench", model_bench)}, 50});
  } else {
    if (o.quick) {
      default_env("SAGEVAL_SUITE_MAX_BYTES", "2048");
      default_env("SAGEVAL_SUITE_CONTEXT", "512");
      default_env("SAGEVAL_SUITE_LENGTHS", "128,512");
      default_env("SAGEVAL_SUITE_TOKENS", "1024");
      default_env("SAGEVAL_SUITE_LONG_TOKENS", "1024");
      default_env("SAGEVAL_SUITE_NEW_TOKENS", "32");
    }
    lanes.push_back({{step("kernel accuracy (CPU emulation)", "kernel_accuracy.log", tests + "/sageval_accuracy_tests",
                           {"--gtest_filter=" + kernel_filter})}, 0});
    lanes.push_back({{model_suites_step("model suites (CPU sizes)", tests + "/sageval_model_tests")}, 0});
    if (!o.precision_plan.empty()) lanes.push_back(plan_lane(tests + "/sageval_model_tests", 0));
  }
  try {
    job.run(lanes, gpus);
  } catch (const std::exception& e) {
    // The job could not go on (a step that cannot start): run.json says so instead of "still running".
    write_unfinished_run(std::string("the main job stopped: ") + e.what());
    throw;
  }
  if (!gpu)
    for (const char* section : {"kernel speed", "memory", "throughput"}) job.skip(section, why_no_gpu);
  json plan_info;
  if (!plan_file.empty()) {
    bool ran = false;
    const json record = job.record();  // held: a range over a member of a temporary would dangle
    for (const json& s : record.at("suites")) ran = ran || s.value("log", "") == "logs/model_suites_plan.log";
    if (ran)
      plan_info = {{"file", plan_file}, {"requested", o.precision_plan},
                   {"plan", eval::read_precision_plan(plan_file).to_json()}};
  }

  json run = job.record();
  const json env = perf::environment_info();
  run.update(json{{"commit", commit},
                  {"date", started},
                  {"host", host()},
                  {"device", gpus.size() > 1                           ? describe_gpus(gpus)
                             : gpu && env.value("gpu", json()).is_object() ? fmt::format("cuda ({})", env["gpu"].value("name", "?"))
                                                                           : std::string(gpu ? "cuda" : "cpu")},
                  {"candidate", o.backend},
                  {"baseline", baseline},
                  {"quick", o.quick},
                  {"model", absolute(model)},
                  {"data", absolute(data)},
                  {"environment", env}});
  if (!plan_info.is_null()) run["precision_plan"] = plan_info;
  // The GPUs the steps ran on (each step's record names its own); the report says when their models differ.
  if (!gpus.empty()) {
    json used = json::array();
    for (const perf::GpuDevice& g : gpus) used.push_back({{"ordinal", g.ordinal}, {"name", g.name}, {"uuid", g.uuid}});
    run["gpus"] = used;
  }
  // What the candidate is, in its own words: for a py: backend, the external library and its version.
  run["candidate_description"] = candidate_description;
  run["commands"].insert(run["commands"].begin(),
                         fmt::format("sageval validate{} --attention-backend {} --model {} --data {} --report-dir {}{}",
                                     o.quick ? " --quick" : "", o.backend, shell_quoted(absolute(model)),
                                     shell_quoted(absolute(data)), shell_quoted(dir),
                                     o.precision_plan.empty() ? "" : " --precision-plan " + shell_quoted(o.precision_plan)));
  // Every setting that changes what the suites compute or how they are judged.
  json settings = json::object();
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const size_t eq = kv.find('=');
    const std::string key = kv.substr(0, eq);
    if (key.rfind("SAGEVAL_", 0) == 0 || key == "OPENBLAS_NUM_THREADS" || key == "OMP_NUM_THREADS")
      settings[key] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  run["settings"] = settings;
  const std::vector<std::string> unfinished = job.unfinished();
  if (!unfinished.empty()) run["incomplete"] = unfinished;
  write_file_atomically(dir + "/run.json", run.dump(2) + "\n");
  if (unfinished.empty()) remove_tree((fs::path(dir) / "figures").string());  // the last run's, redrawn now
  return write_report(dir, "", /*figures=*/true);
}

}  // namespace

void add_validate_command(CLI::App& app, Run& run) {
  auto o = std::make_shared<ValidateOptions>();
  CLI::App* sub = app.add_subcommand("validate", "the main job: every suite this machine can run, then REPORT.md; "
                                                 "exits 0 on PASS, 1 on FAIL, 2 when it could not run");
  sub->add_option("--model", o->model, "model folder (default: the bundled sageval-byte-llama)")->check(CLI::ExistingDirectory);
  sub->add_option("--data", o->data, "folder with wikitext-2-raw/ and ptb/ (default: $SAGEVAL_DATA_DIR)");
  app::add_backend_option(*sub, o->backend, "the candidate; the baseline is fp16 (SAGEVAL_BASELINE)");
  sub->add_flag("--quick", o->quick, "smaller sizes everywhere (minutes instead of tens of minutes)");
  sub->add_option("--precision-plan", o->precision_plan,
                  "auto (find one with `sageval plan` on the context-length data) or a plan file: the model suites run "
                  "again with the plan's layers on the baseline; the report gives both verdicts, the exit code is the "
                  "plan's");
  sub->add_option("--report-dir", o->report_dir, "where records, logs, figures and REPORT.md go")->capture_default_str();
  sub->callback([o, &run] { run = [o] { return run_validate(*o); }; });
}

}  // namespace sageval::cli
