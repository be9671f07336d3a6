// The one record schema every suite writes and the report reads: one JSON object per line in
// $SAGEVAL_REPORT_DIR/<suite>.jsonl (default: <build dir>/report). A line holds the suite, the case name (the
// same string as the gtest name), the backends compared, the device, the figures and each gate's verdict.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sageval {

// A gate is made once, by at_least/at_most, which decide the verdict; the same object is written to the
// record and asserted by the test. NaN never passes. The report reads direction and verdict from the record.
enum class GateDirection { kAtLeast, kAtMost };

struct Gate {
  std::string name;  // what is measured, with its thresholds key: "/attention/sage_int8/gaussian/max_rel_l1: rel_l1"
  double measured = 0.0;
  double threshold = 0.0;
  GateDirection direction = GateDirection::kAtMost;
  bool pass = false;

  static Gate at_least(std::string name, double measured, double threshold);
  static Gate at_most(std::string name, double measured, double threshold);
  // "rel_l1 <= 0.02: measured 0.031 FAILED"
  std::string describe() const;
};

const char* to_string(GateDirection direction);  // ">=" or "<="

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
// Removes a directory tree, if present. Not std::filesystem::remove_all: pip's libtorch (2.11 on the GPU machine)
// exports a remove_all of its own that the dynamic linker binds instead, and it jumps to address 0 (a cuda-gdb
// backtrace there, 2026-11-29). Throws when something could not be removed.
void remove_tree(const std::string& path);
// Writes `text` to a temporary file beside `path`, then renames it over `path`: a reader (or a run cut short)
// sees the old file or the new one, never half of one. Throws naming the path on failure.
void write_file_atomically(const std::string& path, const std::string& text);
// Appends one line (a single write, so concurrent test processes do not interleave). Returns the file path.
std::string append_record(const Record& record);
nlohmann::json to_json(const Record& record);
// A figure as JSON: the number, or "nan" / "inf" / "-inf" (JSON has no non-finite numbers, and a failing
// figure must not turn into null).
nlohmann::json json_number(double value);

}  // namespace sageval
