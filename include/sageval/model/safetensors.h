// Our own reader and writer of the safetensors format (Hugging Face): an 8-byte little-endian header length N,
// N bytes of JSON {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__":
// {..}}, then the raw little-endian tensor data, offsets relative to the end of the header. The reader maps
// the file and checks everything it can (safetensors_header.h: header length against the file size, JSON, dtype
// names, offsets inside the data area and not overlapping, byte sizes against shape x element size); every error
// names the file and, where there is one, the tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "sageval/model/safetensors_header.h"

namespace sageval::model {

class SafetensorsFile {
 public:
  // Maps `path` read-only and parses its header. Throws std::runtime_error naming the file on any defect.
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::map<std::string, SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }

  // A CPU tensor that views the mapped bytes (valid while this object lives), or a copy with `copy`.
  // Throws naming the file and tensor when absent.
  at::Tensor tensor(const std::string& name, bool copy = false) const;

 private:
  friend class SafetensorsCheckpoint;
  SafetensorsFile() = default;
  SafetensorsFile(const SafetensorsFile&) = delete;             // owns a mapping: neither copied nor assigned
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  // The view (or copy) of `name`; `keep_alive` is held by the view's deleter (the checkpoint passes the
  // shared owner of this file so that its views outlive the checkpoint object).
  at::Tensor make_tensor(const std::string& name, bool copy, std::shared_ptr<const void> keep_alive) const;
  std::string path_;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
  const uint8_t* data_ = nullptr;  // start of the data area
  void* map_ = nullptr;
  size_t map_size_ = 0;
};

// Writes CPU tensors (made contiguous) in sorted name order. Throws naming the file on I/O errors and the
// tensor on an unsupported dtype.
void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

at::ScalarType scalar_type_from_safetensors(const std::string& dtype);  // throws on unknown names
std::string safetensors_dtype_name(at::ScalarType type);                // throws on unsupported types

// A checkpoint folder's weights: model.safetensors, or the shards listed by model.safetensors.index.json
// ("weight_map": {tensor: shard file}). Every shard is opened once; a tensor listed in the index but absent
// from its shard, or a shard that is missing, is an error naming both.
class SafetensorsCheckpoint {
 public:
  static SafetensorsCheckpoint open(const std::string& folder);
  bool contains(const std::string& name) const;
  at::Tensor tensor(const std::string& name) const;  // CPU view into the mapped file
  std::vector<std::string> names() const;
  const std::string& folder() const { return folder_; }
  // The file holding `name` (for error messages).
  std::string file_of(const std::string& name) const;

 private:
  std::string folder_;
  std::map<std::string, std::shared_ptr<SafetensorsFile>> files_;  // by file name
  std::map<std::string, std::string> where_;                        // tensor -> file name
};

}  // namespace sageval::model
