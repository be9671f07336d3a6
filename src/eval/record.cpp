#include "sageval/record.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "sageval/build_paths.h"

namespace sageval {

void remove_tree(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return;
  const int rc = ::nftw(path.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
                        FTW_DEPTH | FTW_PHYS);
  if (rc != 0) throw std::runtime_error(fmt::format("cannot remove '{}': {}", path, std::strerror(errno)));
}

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw std::runtime_error(fmt::format("cannot write '{}'", tmp));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error(fmt::format("cannot replace '{}': {}", path, why));
  }
}

std::string report_dir() {
  if (const char* env = std::getenv("SAGEVAL_REPORT_DIR"); env != nullptr && *env != '\0') return env;
  return SAGEVAL_DEFAULT_REPORT_DIR;
}

nlohmann::json json_number(double value) {
  if (std::isfinite(value)) return value;
  return std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf");
}

Gate Gate::at_least(std::string name, double measured, double threshold) {
  return {std::move(name), measured, threshold, GateDirection::kAtLeast, measured >= threshold};
}

Gate Gate::at_most(std::string name, double measured, double threshold) {
  return {std::move(name), measured, threshold, GateDirection::kAtMost, measured <= threshold};
}

const char* to_string(GateDirection direction) { return direction == GateDirection::kAtLeast ? ">=" : "<="; }

std::string Gate::describe() const {
  return fmt::format("{} {} {:.6g}: measured {:.6g} {}", name, to_string(direction), threshold, measured,
                     pass ? "pass" : "FAILED");
}

nlohmann::json to_json(const Record& r) {
  nlohmann::json gates = nlohmann::json::array();
  bool all_pass = true;
  for (const Gate& g : r.gates) {
    gates.push_back({{"name", g.name},
                     {"direction", to_string(g.direction)},
                     {"measured", json_number(g.measured)},
                     {"threshold", json_number(g.threshold)},
                     {"pass", g.pass}});
    all_pass = all_pass && g.pass;
  }
  return {{"suite", r.suite},   {"case", r.case_name},     {"candidate", r.candidate}, {"baseline", r.baseline},
          {"device", r.device}, {"figures", r.figures},   {"gates", gates},           {"pass", all_pass}};
}

std::string append_record(const Record& record) {
  const std::string dir = report_dir();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create report directory '{}': {}", dir, ec.message()));
  const std::string path = fmt::format("{}/{}.jsonl", dir, record.suite);
  const std::string line = to_json(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  const ssize_t written = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(line.size()))
    throw std::runtime_error(fmt::format("short write to '{}'", path));
  return path;
}

}  // namespace sageval
