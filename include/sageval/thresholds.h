// The one place that holds pass/fail thresholds: a JSON file (data/thresholds.json by default, or the file
// named by SAGEVAL_THRESHOLDS) that a user can tighten. Every suite reads its gates from here.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace sageval {

class Thresholds {
 public:
  // The file named by SAGEVAL_THRESHOLDS, else the project's data/thresholds.json. Loaded once.
  static const Thresholds& defaults();
  static Thresholds load(const std::string& path);

  // A number by JSON pointer, e.g. "/attention/sage_int8/gaussian/min_cosine". Throws naming the key and file.
  double number(const std::string& pointer) const;
  // The same, or nothing when the key is absent (a gate that does not apply).
  std::optional<double> find_number(const std::string& pointer) const;
  const std::string& path() const { return path_; }

  Thresholds(const Thresholds&);
  Thresholds& operator=(const Thresholds&);
  ~Thresholds();

 private:
  Thresholds();
  struct Json;
  std::unique_ptr<Json> json_;
  std::string path_;
};

std::string default_thresholds_path();

}  // namespace sageval
