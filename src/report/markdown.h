// Small Markdown helpers for the report renderers.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sageval::report {

class MarkdownTable {
 public:
  explicit MarkdownTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  std::string str() const {
    std::string out = "|";
    for (const auto& h : header_) out += " " + h + " |";
    out += "\n|";
    for (size_t i = 0; i < header_.size(); ++i) out += i == 0 ? "---|" : "---:|";
    out += "\n";
    for (const auto& r : rows_) {
      out += "|";
      for (const auto& c : r) out += " " + escape(c) + " |";
      out += "\n";
    }
    return out;
  }

 private:
  // A '|' inside a cell (gate names such as |a / b - 1|) would end the cell, even inside a code span.
  static std::string escape(const std::string& cell) {
    std::string out;
    for (char ch : cell) {
      if (ch == '\n' || ch == '\r') {  // a multi-line error message would end the row
        out += ' ';
        continue;
      }
      if (ch == '|') out += '\\';
      out += ch;
    }
    return out;
  }
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// A JSON figure as text: numbers with `spec`, strings ("nan", "inf") as they are, absent as "-".
inline std::string num(const nlohmann::json& v, const char* spec = "{:.4g}") {
  if (v.is_null()) return "-";
  if (v.is_number()) return fmt::format(fmt::runtime(spec), v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

inline std::string field(const nlohmann::json& obj, const char* key, const char* spec = "{:.4g}") {
  return obj.is_object() && obj.contains(key) ? num(obj.at(key), spec) : "-";
}

inline double number_or_nan(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key)) return NAN;
  const nlohmann::json& v = obj.at(key);
  return v.is_number() ? v.get<double>() : NAN;
}

inline std::string pass_text(bool pass) { return pass ? "pass" : "**FAIL**"; }

}  // namespace sageval::report
