// Reader and writer of the safetensors format; see the header for the layout. Written from the public format
// description. Tensor data is taken to be little-endian, as the format prescribes; the host is assumed
// little-endian too (every platform this project targets is), so bytes are used as they are.
#include "sageval/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sageval::model {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;  // a sane cap: real headers are a few MB at most
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  int64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},  {"BF16", at::kBFloat16, 2},
    {"I64", at::kLong, 8},   {"I32", at::kInt, 4},   {"I16", at::kShort, 2}, {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},    {"BOOL", at::kBool, 1},
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

std::string errno_text() { return std::strerror(errno); }

// Writes all of [data, data + n) to fd, or returns false with errno set.
bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, std::min<size_t>(n, size_t{1} << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

at::ScalarType scalar_type_from_safetensors(const std::string& dtype) {
  if (const DtypeInfo* d = find_dtype(dtype)) return d->type;
  throw std::runtime_error(fmt::format("unknown or unsupported safetensors dtype '{}' (known: {})", dtype, known_dtype_names()));
}

std::string safetensors_dtype_name(at::ScalarType type) {
  for (const DtypeInfo& d : kDtypes)
    if (d.type == type) return d.name;
  throw std::runtime_error(fmt::format("dtype {} has no safetensors equivalent supported here", c10::toString(type)));
}

// ---------------------------------------------------------------------------------------------------------
// Reader

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    fail(path, "cannot stat: " + why);
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    fail(path, fmt::format("is {} bytes, shorter than the 8-byte header length (truncated or not a safetensors file?)", file_size));
  }
  void* map = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const std::string map_error = map == MAP_FAILED ? errno_text() : std::string();
  ::close(fd);  // the mapping stays valid without the descriptor
  if (map == MAP_FAILED) fail(path, "cannot map: " + map_error);
  f->map_ = map;  // from here on the destructor unmaps, also when parsing throws
  f->map_size_ = file_size;
  const auto* bytes = static_cast<const uint8_t*>(map);

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes)
    fail(path, fmt::format("header length {} is beyond the cap of {} bytes (corrupt or not a safetensors file?)", header_len,
                           kMaxHeaderBytes));
  if (8 + header_len > file_size)
    fail(path, fmt::format("header length {} runs past the end of the {}-byte file (truncated or corrupt file?)", header_len,
                           file_size));
  const int64_t data_size = static_cast<int64_t>(file_size - 8 - header_len);
  f->data_ = bytes + 8 + header_len;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(bytes + 8),
                                   reinterpret_cast<const char*>(bytes + 8 + header_len));
  } catch (const nlohmann::json::exception& e) {
    fail(path, fmt::format("header is not valid JSON: {}", e.what()));
  }
  if (!header.is_object()) fail(path, fmt::format("header is not a JSON object but {}", header.type_name()));

  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == kMetadataKey) {
      if (!it.value().is_object()) fail(path, "\"__metadata__\" is not a JSON object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(path, fmt::format("\"__metadata__\" value of '{}' is not a string", m.key()));
        f->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    f->entries_[it.key()] = parse_entry(path, it.key(), it.value(), data_size);
  }

  // No two entries may share bytes: order by begin and compare neighbours (empty entries hold no bytes).
  std::vector<std::pair<const std::string*, const SafetensorsEntry*>> order;
  for (const auto& [name, e] : f->entries_)
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
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

at::Tensor SafetensorsFile::make_tensor(const std::string& name, bool copy, std::shared_ptr<const void> keep_alive) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw std::runtime_error(fmt::format("safetensors file '{}' has no tensor '{}'", path_, name));
  const SafetensorsEntry& e = it->second;
  const DtypeInfo* info = find_dtype(e.dtype);  // checked when the header was parsed
  const auto options = at::TensorOptions().dtype(info->type).device(at::kCPU);
  const uint8_t* src = data_ + e.begin;
  const int64_t nbytes = e.end - e.begin;

  // A copy when asked, when there are no bytes to view, or when the bytes are not aligned to the element size
  // (a header whose length is not a multiple of 8 leaves the data area misaligned).
  if (copy || nbytes == 0 || reinterpret_cast<uintptr_t>(src) % static_cast<uintptr_t>(info->size) != 0) {
    at::Tensor out = at::empty(e.shape, options);
    if (nbytes > 0) std::memcpy(out.data_ptr(), src, static_cast<size_t>(nbytes));
    return out;
  }
  // The mapping is read-only (PROT_READ): callers must treat the view as read-only; writing to it faults.
  void* ptr = const_cast<uint8_t*>(src);
  if (keep_alive) return at::from_blob(ptr, e.shape, [keep = std::move(keep_alive)](void*) {}, options);
  return at::from_blob(ptr, e.shape, options);
}

at::Tensor SafetensorsFile::tensor(const std::string& name, bool copy) const { return make_tensor(name, copy, nullptr); }

// ---------------------------------------------------------------------------------------------------------
// Writer

void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header[kMetadataKey] = std::move(meta);
  }
  std::vector<at::Tensor> data;  // contiguous CPU tensors in name order
  int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == kMetadataKey)
      throw std::runtime_error(fmt::format("safetensors file '{}': '{}' is reserved and cannot name a tensor", path, name));
    if (!t.defined()) throw std::runtime_error(fmt::format("safetensors file '{}': tensor '{}' is undefined", path, name));
    std::string dtype;
    try {
      dtype = safetensors_dtype_name(t.scalar_type());
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("safetensors file '{}': tensor '{}': {}", path, name, e.what()));
    }
    at::Tensor c = t.to(at::kCPU).contiguous();
    const int64_t nbytes = c.numel() * static_cast<int64_t>(c.element_size());
    header[name] = {{"dtype", dtype}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(c));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data area starts on an 8-byte boundary
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  // Write a sibling temp file and rename it over `path`: a failed write leaves no half file behind.
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("safetensors file '{}': cannot create '{}': {}", path, tmp, errno_text()));
  auto abandon = [&](const std::string& what) {
    const std::string why = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    throw std::runtime_error(fmt::format("safetensors file '{}': {}: {}", path, what, why));
  };
  if (!write_all(fd, len, sizeof len) || !write_all(fd, text.data(), text.size())) abandon("cannot write the header");
  for (const at::Tensor& c : data)
    if (c.numel() > 0 && !write_all(fd, c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size()))
      abandon("cannot write the tensor data");
  if (::fsync(fd) != 0) abandon("cannot flush");
  if (::close(fd) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw std::runtime_error(fmt::format("safetensors file '{}': cannot close '{}': {}", path, tmp, why));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw std::runtime_error(fmt::format("safetensors file '{}': cannot rename '{}' into place: {}", path, tmp, why));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Checkpoint folders

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& folder) {
  namespace fs = std::filesystem;
  SafetensorsCheckpoint ck;
  ck.folder_ = folder;
  const fs::path dir(folder);
  const fs::path index_path = dir / "model.safetensors.index.json";
  const fs::path single_path = dir / "model.safetensors";
  std::error_code ec;

  if (fs::exists(index_path, ec)) {
    const std::string index = index_path.string();
    nlohmann::json j;
    {
      std::ifstream in(index_path, std::ios::binary);
      if (!in) throw std::runtime_error(fmt::format("checkpoint index '{}': cannot open: {}", index, errno_text()));
      try {
        j = nlohmann::json::parse(in);
      } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(fmt::format("checkpoint index '{}': not valid JSON: {}", index, e.what()));
      }
    }
    auto wm = j.is_object() ? j.find("weight_map") : j.end();
    if (wm == j.end() || !wm->is_object())
      throw std::runtime_error(fmt::format("checkpoint index '{}' has no \"weight_map\" object", index));
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string())
        throw std::runtime_error(
            fmt::format("checkpoint index '{}': weight_map entry of tensor '{}' is not a file name", index, it.key()));
      const std::string shard = it.value().get<std::string>();
      const std::string& name = it.key();
      auto f = ck.files_.find(shard);
      if (f == ck.files_.end()) {
        const fs::path shard_path = dir / shard;
        if (!fs::exists(shard_path, ec))
          throw std::runtime_error(fmt::format("checkpoint index '{}': shard '{}' (holding tensor '{}') is missing: no file '{}'",
                                               index, shard, name, shard_path.string()));
        f = ck.files_.emplace(shard, std::shared_ptr<SafetensorsFile>(SafetensorsFile::open(shard_path.string()))).first;
      }
      if (!f->second->contains(name))
        throw std::runtime_error(fmt::format("checkpoint index '{}' lists tensor '{}' in shard '{}', but that shard has no such tensor",
                                             index, name, f->second->path()));
      ck.where_[name] = shard;
    }
    return ck;
  }
  if (fs::exists(single_path, ec)) {
    const std::string file = "model.safetensors";
    auto f = std::shared_ptr<SafetensorsFile>(SafetensorsFile::open(single_path.string()));
    for (const auto& entry : f->entries()) ck.where_[entry.first] = file;
    ck.files_.emplace(file, std::move(f));
    return ck;
  }
  throw std::runtime_error(
      fmt::format("checkpoint folder '{}' has neither model.safetensors nor model.safetensors.index.json", folder));
}

bool SafetensorsCheckpoint::contains(const std::string& name) const { return where_.count(name) != 0; }

std::string SafetensorsCheckpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end())
    throw std::runtime_error(fmt::format("checkpoint folder '{}' has no tensor '{}'", folder_, name));
  return files_.at(it->second)->path();
}

at::Tensor SafetensorsCheckpoint::tensor(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end())
    throw std::runtime_error(fmt::format("checkpoint folder '{}' has no tensor '{}'", folder_, name));
  const std::shared_ptr<SafetensorsFile>& file = files_.at(it->second);
  // The view holds the file's owner, so it stays valid after this checkpoint object is gone.
  return file->make_tensor(name, /*copy=*/false, file);
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& entry : where_) out.push_back(entry.first);
  return out;
}

}  // namespace sageval::model
