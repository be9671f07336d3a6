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

constexpr const char* kMetadataKey = "__metadata__";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(fmt::format("safetensors file '{}': {}", path, what));
}

struct DtypeType {
  const char* name;
  at::ScalarType type;
};

constexpr DtypeType kDtypeTypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
    {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},       {"BOOL", at::kBool},
};

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
  for (const DtypeType& d : kDtypeTypes)
    if (dtype == d.name) return d.type;
  std::string known;
  for (const DtypeType& d : kDtypeTypes) known += (known.empty() ? "" : " ") + std::string(d.name);
  throw std::runtime_error(fmt::format("unknown or unsupported safetensors dtype '{}' (known: {})", dtype, known));
}

std::string safetensors_dtype_name(at::ScalarType type) {
  for (const DtypeType& d : kDtypeTypes)
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
  if (file_size < 8) {  // too short to map usefully; the header parser says why
    ::close(fd);
    parse_safetensors_header(nullptr, file_size, path);
  }
  void* map = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const std::string map_error = map == MAP_FAILED ? errno_text() : std::string();
  ::close(fd);  // the mapping stays valid without the descriptor
  if (map == MAP_FAILED) fail(path, "cannot map: " + map_error);
  f->map_ = map;  // from here on the destructor unmaps, also when parsing throws
  f->map_size_ = file_size;
  const auto* bytes = static_cast<const uint8_t*>(map);

  SafetensorsHeader header = parse_safetensors_header(bytes, file_size, path);
  f->entries_ = std::move(header.entries);
  f->metadata_ = std::move(header.metadata);
  f->data_ = bytes + header.data_start;
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

at::Tensor SafetensorsFile::make_tensor(const std::string& name, bool copy, std::shared_ptr<const void> keep_alive) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw std::runtime_error(fmt::format("safetensors file '{}' has no tensor '{}'", path_, name));
  const SafetensorsEntry& e = it->second;
  const int64_t element_size = safetensors_dtype_size(e.dtype);  // checked when the header was parsed
  const auto options = at::TensorOptions().dtype(scalar_type_from_safetensors(e.dtype)).device(at::kCPU);
  const uint8_t* src = data_ + e.begin;
  const int64_t nbytes = e.end - e.begin;

  // A copy when asked, when there are no bytes to view, or when the bytes are not aligned to the element size
  // (a header whose length is not a multiple of 8 leaves the data area misaligned).
  if (copy || nbytes == 0 || reinterpret_cast<uintptr_t>(src) % static_cast<uintptr_t>(element_size) != 0) {
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
