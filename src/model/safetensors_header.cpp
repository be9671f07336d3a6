#include "sageval/model/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sageval/unique_keys_json.h"

namespace sageval::model {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;  // a sane cap: real headers are a few MB at most
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeInfo {
  const char* name;
  int64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1}, {"U8", 1}, {"BOOL", 1},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const DtypeInfo& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

std::string known_dtype_names() {
  std::string out;
  for (const DtypeInfo& d : kDtypes) out += (out.empty() ? "" : " ") + std::string(d.name);
  return out;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(fmt::format("safetensors file '{}': {}", path, what));
}

[[noreturn]] void fail_tensor(const std::string& path, const std::string& name, const std::string& what) {
  throw std::runtime_error(fmt::format("safetensors file '{}': tensor '{}': {}", path, name, what));
}

// A JSON value as a non-negative int64, or nullopt-like false.
bool as_non_negative(const nlohmann::json& v, int64_t& out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
    return out >= 0;
  }
  return false;
}

SafetensorsEntry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& j,
                             int64_t data_size) {
  if (!j.is_object()) fail_tensor(path, name, fmt::format("header entry is not a JSON object but {}", j.type_name()));
  SafetensorsEntry e;

  auto dt = j.find("dtype");
  if (dt == j.end() || !dt->is_string()) fail_tensor(path, name, "header entry has no string \"dtype\"");
  e.dtype = dt->get<std::string>();
  const DtypeInfo* info = find_dtype(e.dtype);
  if (info == nullptr)
    fail_tensor(path, name, fmt::format("unknown or unsupported dtype '{}' (known: {})", e.dtype, known_dtype_names()));

  auto sh = j.find("shape");
  if (sh == j.end() || !sh->is_array()) fail_tensor(path, name, "header entry has no array \"shape\"");
  int64_t elements = 1;
  bool overflow = false;
  for (const nlohmann::json& d : *sh) {
    int64_t dim = 0;
    if (!as_non_negative(d, dim)) fail_tensor(path, name, fmt::format("shape {} has an entry that is not a non-negative integer", sh->dump()));
    e.shape.push_back(dim);
    overflow = overflow || __builtin_mul_overflow(elements, dim, &elements);
  }
  int64_t bytes = 0;
  overflow = overflow || __builtin_mul_overflow(elements, info->size, &bytes);
  if (overflow) fail_tensor(path, name, fmt::format("shape {} overflows a 64-bit byte count", sh->dump()));

  auto off = j.find("data_offsets");
  if (off == j.end() || !off->is_array() || off->size() != 2 || !as_non_negative((*off)[0], e.begin) ||
      !as_non_negative((*off)[1], e.end))
    fail_tensor(path, name, "header entry needs \"data_offsets\": [begin, end] of two non-negative integers");
  if (e.begin > e.end) fail_tensor(path, name, fmt::format("data_offsets [{}, {}] end before they begin", e.begin, e.end));
  if (e.end > data_size)
    fail_tensor(path, name,
                fmt::format("data_offsets [{}, {}] exceed the data area of {} bytes (truncated or corrupt file?)", e.begin,
                            e.end, data_size));
  if (e.end - e.begin != bytes)
    fail_tensor(path, name,
                fmt::format("data_offsets [{}, {}] span {} bytes but shape {} of {} needs {} bytes", e.begin, e.end,
                            e.end - e.begin, sh->dump(), e.dtype, bytes));
  return e;
}

}  // namespace

int64_t safetensors_dtype_size(const std::string& dtype) {
  const DtypeInfo* info = find_dtype(dtype);
  return info == nullptr ? 0 : info->size;
}

SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, uint64_t file_size, const std::string& path) {
  if (file_size < 8)
    fail(path, fmt::format("is {} bytes, shorter than the 8-byte header length (truncated or not a safetensors file?)", file_size));
  SafetensorsHeader h;
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes)
    fail(path, fmt::format("header length {} is beyond the cap of {} bytes (corrupt or not a safetensors file?)", header_len,
                           kMaxHeaderBytes));
  if (8 + header_len > file_size)
    fail(path, fmt::format("header length {} runs past the end of the {}-byte file (truncated or corrupt file?)", header_len,
                           file_size));
  const int64_t data_size = static_cast<int64_t>(file_size - 8 - header_len);

  // A name given twice would silently keep its last entry: refused.
  std::string duplicate;
  nlohmann::json header;
  try {
    header = parse_json_unique_keys(reinterpret_cast<const char*>(bytes + 8),
                                    reinterpret_cast<const char*>(bytes + 8 + header_len), duplicate);
  } catch (const nlohmann::json::exception& e) {
    fail(path, fmt::format("header is not valid JSON: {}", e.what()));
  }
  if (!duplicate.empty()) fail(path, fmt::format("header names '{}' more than once", duplicate));
  if (!header.is_object()) fail(path, fmt::format("header is not a JSON object but {}", header.type_name()));

  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == kMetadataKey) {
      if (!it.value().is_object()) fail(path, "\"__metadata__\" is not a JSON object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(path, fmt::format("\"__metadata__\" value of '{}' is not a string", m.key()));
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    h.entries[it.key()] = parse_entry(path, it.key(), it.value(), data_size);
  }

  // No two entries may share bytes: order by begin and compare neighbours (empty entries hold no bytes).
  std::vector<std::pair<const std::string*, const SafetensorsEntry*>> order;
  for (const auto& [name, e] : h.entries)
    if (e.end > e.begin) order.emplace_back(&name, &e);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  for (size_t i = 1; i < order.size(); ++i) {
    const auto& [prev_name, prev] = order[i - 1];
    const auto& [name, e] = order[i];
    if (e->begin < prev->end)
      fail_tensor(path, *name,
                  fmt::format("data_offsets [{}, {}] overlap those of tensor '{}' [{}, {}]", e->begin, e->end, *prev_name,
                              prev->begin, prev->end));
  }
  h.data_start = 8 + header_len;
  return h;
}

}  // namespace sageval::model
