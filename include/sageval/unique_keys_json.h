// JSON read from a file a user brought (a checkpoint's config.json, a safetensors header): an object that names a
// key twice is refused, since nlohmann::json (like most readers) keeps the last value without a word, and the
// file would then be run differently from what another reader of it sees. Header-only, no libtorch.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sageval {

// Parses [begin, end) (throws nlohmann::json::parse_error as json::parse does). `duplicate` is set to the first
// key found twice in one object, "" when none is.
inline nlohmann::json parse_json_unique_keys(const char* begin, const char* end, std::string& duplicate) {
  duplicate.clear();
  std::vector<std::set<std::string>> open;  // the keys of each object being read, innermost last
  auto note = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) open.emplace_back();
    if (event == E::object_end && !open.empty()) open.pop_back();
    if (event == E::key && !open.empty() && !open.back().insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  return nlohmann::json::parse(begin, end, note);
}

}  // namespace sageval
