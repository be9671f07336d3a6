#include "sageval/thresholds.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sageval/build_paths.h"

namespace sageval {

struct Thresholds::Json {
  nlohmann::json value;
};

Thresholds::Thresholds() : json_(std::make_unique<Json>()) {}
Thresholds::Thresholds(const Thresholds& other) : json_(std::make_unique<Json>(*other.json_)), path_(other.path_) {}
Thresholds& Thresholds::operator=(const Thresholds& other) {
  *json_ = *other.json_;
  path_ = other.path_;
  return *this;
}
Thresholds::~Thresholds() = default;

std::string default_thresholds_path() {
  if (const char* env = std::getenv("SAGEVAL_THRESHOLDS"); env != nullptr && *env != '\0') return env;
  return SAGEVAL_SOURCE_DIR "/data/thresholds.json";
}

Thresholds Thresholds::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("thresholds file '{}' cannot be opened", path));
  Thresholds t;
  t.path_ = path;
  try {
    t.json_->value = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("thresholds file '{}' is not valid JSON: {}", path, e.what()));
  }
  return t;
}

const Thresholds& Thresholds::defaults() {
  static const Thresholds t = load(default_thresholds_path());
  return t;
}

std::optional<double> Thresholds::find_number(const std::string& pointer) const {
  const nlohmann::json::json_pointer ptr(pointer);
  if (!json_->value.contains(ptr)) return std::nullopt;
  const nlohmann::json& v = json_->value.at(ptr);
  if (!v.is_number())
    throw std::runtime_error(fmt::format("thresholds file '{}': '{}' is not a number", path_, pointer));
  return v.get<double>();
}

double Thresholds::number(const std::string& pointer) const {
  if (auto v = find_number(pointer)) return *v;
  throw std::runtime_error(fmt::format("thresholds file '{}' has no key '{}'", path_, pointer));
}

}  // namespace sageval
