// The one record schema every suite writes and the report reads: one JSON object per line in
// $SAGEVAL_REPORT_DIR/<suite>.jsonl (default: <build dir>/report). A line holds the suite, the case name (the
// same string as the gtest name), the backends compared, the device, the figures and each gate's verdict.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sageval {

struct Gate {
  std::string name;       // e.g. "rel_l1 <= max_rel_l1"
  double measured = 0.0;
  double threshold = 0.0;
  bool pass = false;
};

struct Record {
  std::string suite;
  std::string case_name;
  std::string candidate;
  std::string baseline;
  std::string device;
  nlohmann::json figures = nlohmann::json::object();
  std::vector<Gate> gates;
};

std::string report_dir();
// Appends one line (a single write, so concurrent test processes do not interleave). Returns the file path.
std::string append_record(const Record& record);
nlohmann::json to_json(const Record& record);
// A figure as JSON: the number, or "nan" / "inf" / "-inf" (JSON has no non-finite numbers, and a failing
// figure must not turn into null).
nlohmann::json json_number(double value);

}  // namespace sageval
