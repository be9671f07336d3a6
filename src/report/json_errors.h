// The report reads run.json and the benchmark files that sageval wrote, but a user may hand it any folder: a
// field of an unexpected type must give an error naming the folder, not a JSON library exception that names
// nothing (the records are checked line by line when read: report_data.cpp, record_problem).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sageval::report {

template <typename F>
auto with_named_json_errors(const std::string& dir, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("report directory '{}': run.json or a benchmark file has a field of an "
                                         "unexpected type or shape ({})", dir, e.what()));
  }
}

}  // namespace sageval::report
