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
    t["sage_int8"] = [] { return detail::make_sage_int8_backend(); };
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

bool has_backend(const std::string& name) { return factories().count(name) != 0; }

std::unique_ptr<AttentionBackend> make_backend(const std::string& name) {
  auto it = factories().find(name);
  if (it == factories().end())
    throw std::invalid_argument(
        fmt::format("unknown attention backend '{}' (available: {})", name, fmt::join(list_backends(), ", ")));
  return it->second();
}

}  // namespace sageval
