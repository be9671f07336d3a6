#include "cli/job_steps.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <regex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sageval/app/exit_codes.h"

extern char** environ;

namespace sageval::cli {
namespace {

using nlohmann::json;

// The gtest summary lines of a log ("[  PASSED  ] 40 tests."), joined.
std::string test_summary(const std::string& log) {
  std::ifstream in(log);
  static const std::regex summary(R"(^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ tests?)");
  std::string line, out;
  while (std::getline(in, line))
    if (std::smatch m; std::regex_search(line, m, summary)) out += (out.empty() ? "" : " ") + m.str();
  return out;
}

// SIGINT/SIGTERM while steps run: remembered, passed on to the running steps (SIGTERM), and no step starts after.
// Only async-signal-safe work in the handler: atomics and kill().
constexpr int kMaxChildren = 64;
std::atomic<int> g_signal{0};
std::atomic<pid_t> g_children[kMaxChildren];

void on_signal(int sig) {
  const int saved_errno = errno;  // kill() may set it under a thread that is about to read its own
  g_signal.store(sig);
  for (auto& child : g_children)
    if (const pid_t pid = child.load(); pid > 0) ::kill(pid, SIGTERM);
  errno = saved_errno;
}

void track_child(pid_t pid, bool running) {
  for (auto& child : g_children) {
    pid_t expected = running ? 0 : pid;
    if (child.compare_exchange_strong(expected, running ? pid : 0)) return;
  }
}

// Installs the handler for the life of a Job::run, then puts the previous ones back.
class SignalScope {
 public:
  SignalScope() {
    g_signal.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalScope() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

struct ProcessEnd {
  int exit_code = 0;  // 128 + the signal when one ended it
  int signal = 0;     // 0 when it exited
};

// Runs `exe args` with this process's environment plus `env`, stdout and stderr into `log_path`; waits for it.
// Throws when it cannot be started.
ProcessEnd run_process(const std::string& exe, const std::vector<std::string>& args,
                const std::vector<std::pair<std::string, std::string>>& env, const std::string& log_path) {
  std::vector<std::string> words = {exe};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::map<std::string, std::string> overrides(env.begin(), env.end());
  std::vector<std::string> entries;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    if (overrides.count(kv.substr(0, kv.find('='))) == 0) entries.push_back(kv);
  }
  for (const auto& [k, v] : overrides) entries.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : entries) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int err = ::posix_spawn(&pid, exe.c_str(), &files, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&files);
  if (err != 0) throw std::runtime_error(fmt::format("could not start {}: {}", exe, std::strerror(err)));
  track_child(pid, true);
  if (g_signal.load() != 0) ::kill(pid, SIGTERM);  // the signal came between the check and the start
  // Wait without reaping, untrack, then reap: until it is reaped the pid cannot be reused, so the signal
  // handler never sends SIGTERM to a stranger.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0)
    if (errno != EINTR) {
      track_child(pid, false);
      throw std::runtime_error(fmt::format("waiting for {}: {}", exe, std::strerror(errno)));
    }
  track_child(pid, false);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(fmt::format("reaping {}: {}", exe, std::strerror(errno)));
  if (WIFSIGNALED(status)) return {128 + WTERMSIG(status), WTERMSIG(status)};
  return {WEXITSTATUS(status), 0};
}

// A signal that stops a step from outside (the user, the job, the machine) leaves it unfinished; any other
// (SIGSEGV, SIGABRT, ...) is the step's own crash, a failure.
bool stopped_from_outside(int sig) { return sig == SIGINT || sig == SIGTERM || sig == SIGKILL || sig == SIGHUP; }

struct StepResult {
  json record;
  std::string command;
};

}  // namespace

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void Job::run(const std::vector<JobLane>& lanes, const std::vector<perf::GpuDevice>& gpus) {
  const SignalScope signals;
  std::vector<std::vector<std::optional<StepResult>>> results(lanes.size());
  for (size_t i = 0; i < lanes.size(); ++i) results[i].resize(lanes[i].steps.size());
  std::mutex mutex;  // guards printing and the queue
  std::vector<size_t> queue(lanes.size());
  std::iota(queue.begin(), queue.end(), size_t{0});
  const bool parallel = gpus.size() > 1 && lanes.size() > 1;
  if (parallel)
    std::stable_sort(queue.begin(), queue.end(),
                     [&](size_t a, size_t b) { return lanes[a].expected_seconds > lanes[b].expected_seconds; });
  size_t next = 0;
  std::atomic<bool> stop{false};  // a lane failed to run: the others start no further step
  // Lanes at once share the host's cores as they share its GPUs, unless the user set OMP_NUM_THREADS.
  const char* omp = std::getenv("OMP_NUM_THREADS");
  const std::string lane_threads = std::to_string(perf::cpu_threads_for_share(
      1, 1, static_cast<int>(gpus.size()), static_cast<int>(std::thread::hardware_concurrency())));  // a whole GPU's share
  const bool share_threads = parallel && (omp == nullptr || *omp == '\0');

  auto run_lane = [&](size_t lane, const perf::GpuDevice* gpu) {
    for (size_t s = 0; s < lanes[lane].steps.size(); ++s) {
      if (g_signal.load() != 0 || stop.load()) return;
      const JobStep& step = lanes[lane].steps[s];
      std::vector<std::pair<std::string, std::string>> env = step.env;
      std::string where;
      if (gpu != nullptr) {
        env.emplace_back("CUDA_VISIBLE_DEVICES", perf::cuda_visible_devices_for(gpu->ordinal, std::getenv("CUDA_VISIBLE_DEVICES")));
        where = fmt::format(" on GPU {}", gpu->ordinal);
      }
      if (share_threads) env.emplace_back("OMP_NUM_THREADS", lane_threads);
      std::string command;
      for (const auto& [k, v] : env) command += k + "=" + shell_quoted(v) + " ";
      command += shell_quoted(step.exe);
      for (const std::string& a : step.args) command += " " + shell_quoted(a);
      const std::string log_path = dir_ + "/logs/" + step.log;
      if (!parallel) {
        fmt::print("== {:<34} ", step.name);
        std::fflush(stdout);
      }
      const auto start = std::chrono::steady_clock::now();
      ProcessEnd end;
      try {
        end = run_process(step.exe, step.args, env, log_path);
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("step '{}': {}", step.name, e.what()));
      }
      const int rc = end.exit_code;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const std::string verdict = end.signal != 0 ? (stopped_from_outside(end.signal) ? "killed" : "crashed")
                                  : rc == 0                ? "passed"
                                  : rc == app::kExitNoGpu ? "skipped"
                                                           : "failed";
      const std::string summary = test_summary(log_path);
      json record = {{"name", step.name}, {"status", verdict}, {"exit_code", rc}, {"seconds", seconds}, {"log", "logs/" + step.log}};
      if (end.signal != 0) record["signal"] = end.signal;
      if (gpu != nullptr) record["gpu"] = {{"ordinal", gpu->ordinal}, {"name", gpu->name}, {"uuid", gpu->uuid}};
      for (const std::string& tag : step.tags) record[tag] = true;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (parallel) fmt::print("== {:<34} ", step.name);
        fmt::print("{} in {:.0f} s{} {}(log: logs/{})\n", verdict, seconds, where, summary.empty() ? "" : summary + " ", step.log);
        std::fflush(stdout);
        results[lane][s] = StepResult{record, command};
      }
      if (step.lane_continues && !step.lane_continues(rc)) break;
    }
  };

  if (!parallel) {
    for (size_t lane : queue) run_lane(lane, gpus.empty() ? nullptr : &gpus[0]);
  } else {
    fmt::print("== {} GPUs: the steps run in {} lanes, one lane per GPU at a time\n", gpus.size(), lanes.size());
    std::exception_ptr failure;
    std::vector<std::thread> workers;
    for (const perf::GpuDevice& gpu : gpus)
      workers.emplace_back([&, gpu] {
        for (;;) {
          size_t lane = 0;
          {
            std::lock_guard<std::mutex> lock(mutex);
            if (failure || next == queue.size()) return;
            lane = queue[next++];
          }
          try {
            run_lane(lane, &gpu);
          } catch (...) {
            stop.store(true);
            std::lock_guard<std::mutex> lock(mutex);
            if (!failure) failure = std::current_exception();
            return;
          }
        }
      });
    for (std::thread& w : workers) w.join();
    if (failure) std::rethrow_exception(failure);
  }
  for (size_t lane = 0; lane < results.size(); ++lane)
    for (size_t s = 0; s < results[lane].size(); ++s)
      if (const auto& r = results[lane][s]) {
        steps_.push_back(r->record);
        commands_.push_back(r->command);
      } else if (g_signal.load() != 0) {
        not_run_.push_back(lanes[lane].steps[s].name);
      }
  interrupted_by_ = g_signal.load();
}

std::vector<std::string> Job::unfinished() const {
  std::vector<std::string> reasons;
  for (const json& s : steps_) {
    const int rc = s.value("exit_code", 0), sig = s.value("signal", 0);
    if (sig != 0) {
      // A crash is the step's own failure (a FAIL); a signal from outside leaves it unfinished.
      if (stopped_from_outside(sig))
        reasons.push_back(fmt::format("step '{}' was ended by signal {} ({})", s.value("name", "?"), sig, strsignal(sig)));
      continue;
    }
    if (rc == 0 || rc == 1 || rc == app::kExitNoGpu) continue;  // a verdict, or nothing to measure here
    reasons.push_back(fmt::format("step '{}' stopped with exit code {}, an error (see {})", s.value("name", "?"), rc,
                                  s.value("log", "its log")));
  }
  if (interrupted_by_ != 0)
    reasons.push_back(fmt::format("the main job was interrupted by signal {} ({}){}", interrupted_by_, strsignal(interrupted_by_),
                                  not_run_.empty() ? std::string() : fmt::format("; not run: {}", fmt::join(not_run_, ", "))));
  return reasons;
}

void Job::skip(const std::string& section, const std::string& reason) {
  skipped_.push_back({{"section", section}, {"reason", reason}});
  fmt::print("== {}: skipped ({})\n", section, reason);
}

json Job::record() const { return {{"commands", commands_}, {"suites", steps_}, {"skipped", skipped_}}; }

}  // namespace sageval::cli
