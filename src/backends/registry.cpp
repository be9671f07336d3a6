#include <functional>
#include <map>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/backend_factories.h"
#include "sageval/attention.h"

namespace sageval {
namespace {

using Factory = std::function<std::unique_ptr<AttentionBackend>()>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = [] {
    std::map<std::string, Factory> t;
    t["math"] = [] { return detail::make_math_backend(at::kDouble); };
    t["math_fp32"] = [] { return detail::make_math_backend(at::kFloat); };
    t["fp16"] = [] { return detail::make_fp16_backend(); };
    // The recipe's Q granularity by name, both always (to compare them), and "sage_int8" the default one; all
    // judged by sage_int8's gates.
    t["sage_int8"] = [] { return detail::make_sage_int8_backend("sage_int8", numerics::kDefaultQGranularity); };
    t["sage_int8_qblock"] = [] { return detail::make_sage_int8_backend("sage_int8_qblock", numerics::QGranularity::kPerBlock); };
    t["sage_int8_qwarp"] = [] { return detail::make_sage_int8_backend("sage_int8_qwarp", numerics::QGranularity::kPerWarp); };
    t["sage_int8_qsmooth"] = [] { return detail::make_sage_int8_qsmooth_backend(); };
    if (detail::make_sdpa_backend()) t["sdpa"] = [] { return detail::make_sdpa_backend(); };
    return t;
  }();
  return table;
}

}  // namespace

std::vector<std::string> list_backends() {
  std::vector<std::string> names;
  for (const auto& entry : factories()) names.push_back(entry.first);
  return names;
}

namespace {
// "py:MODULE:FUNCTION" with both parts non-empty.
bool is_python_name(const std::string& name) {
  if (name.rfind("py:", 0) != 0) return false;
  const size_t colon = name.find(':', 3);
  return colon != std::string::npos && colon > 3 && colon + 1 < name.size();
}
}  // namespace

bool has_backend(const std::string& name) {
  if (name.rfind("py:", 0) == 0) return is_python_name(name) && detail::python_backends_unavailable().empty();
  return factories().count(name) != 0;
}

std::unique_ptr<AttentionBackend> make_backend(const std::string& name) {
  if (name.rfind("py:", 0) == 0) {
    if (!is_python_name(name))
      throw std::invalid_argument(fmt::format("attention backend '{}' is not of the form py:MODULE:FUNCTION", name));
    return detail::make_python_backend(name);
  }
  auto it = factories().find(name);
  if (it == factories().end())
    throw std::invalid_argument(
        fmt::format("unknown attention backend '{}' (available: {}, py:MODULE:FUNCTION)", name, fmt::join(list_backends(), ", ")));
  return it->second();
}

}  // namespace sageval
