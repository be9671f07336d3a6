// The steps of `sageval validate`: each an executable run as its own process with its output in a log. Steps
// come in lanes (steps that run one after another, e.g. a plan search and then the suites with the plan); with
// several GPUs visible the lanes run at once, one lane per GPU at a time, so a timing never shares its GPU.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sageval/perf/gpu_devices.h"

namespace sageval::cli {

struct JobStep {
  std::string name, log, exe;  // log: a file name under <report dir>/logs
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // set for this step's process only
  std::vector<std::string> tags;                          // true-valued keys on the step's record
  // Given the step's exit code: whether the rest of its lane runs (null: always).
  std::function<bool(int)> lane_continues;
};

struct JobLane {
  std::vector<JobStep> steps;
  double expected_seconds = 0;  // the longest lanes start first
};

class Job {
 public:
  explicit Job(std::string report_dir) : dir_(std::move(report_dir)) {}

  // Runs the lanes: one after another in the order given without GPUs; with GPUs, each lane on one GPU
  // (CUDA_VISIBLE_DEVICES narrowed to it) and as many lanes at once as there are GPUs, longest first. Prints a
  // line per finished step. Records the steps in the order given, whatever order they finished in. Throws when
  // a step's executable cannot be started (the job cannot run: not a verdict).
  void run(const std::vector<JobLane>& lanes, const std::vector<perf::GpuDevice>& gpus);

  void skip(const std::string& section, const std::string& reason);

  // Why the steps did not all finish: a step ended by a signal from outside (SIGINT, SIGTERM, SIGKILL, SIGHUP;
  // a crash such as SIGSEGV is the step's own failure, status "crashed") or by an error exit code (anything but
  // 0 PASS, 1 FAIL, 77 nothing to measure), or the job interrupted by SIGINT/SIGTERM (which run() passes on to
  // the running steps, starting no more). Empty when every step finished.
  std::vector<std::string> unfinished() const;

  // {"commands": [...], "suites": [{"name", "status", "exit_code", "signal"?, "seconds", "log", "gpu"?, tags...}],
  //  "skipped"}; status: passed, failed, skipped (77), crashed (a signal of its own), killed (a signal from outside)
  nlohmann::json record() const;

 private:
  std::string dir_;
  int interrupted_by_ = 0;
  std::vector<std::string> not_run_;
  nlohmann::json commands_ = nlohmann::json::array(), steps_ = nlohmann::json::array(),
                 skipped_ = nlohmann::json::array();
};

// A word for the shell: 'it''s' quoted so that a command line in the report can be pasted.
std::string shell_quoted(const std::string& s);

}  // namespace sageval::cli
