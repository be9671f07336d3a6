// The header of a safetensors file, parsed and checked without libtorch (so that the fuzz targets can run it
// alone, fuzz/): an 8-byte little-endian length N, N bytes of JSON {"name": {"dtype": "F16", "shape": [..],
// "data_offsets": [begin, end]}, ..., "__metadata__": {..}}, then the data area, offsets relative to its start.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sageval::model {

struct SafetensorsEntry {
  std::string dtype;           // safetensors name: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL
  std::vector<int64_t> shape;
  int64_t begin = 0;           // byte offsets in the data area
  int64_t end = 0;
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // where the data area begins in the file: 8 + N
};

// Checks everything the bytes allow: the length against the size (and a cap of 100 MiB), the JSON (an object,
// each tensor name once), each entry's dtype, shape and offsets (inside the data area, the byte count of
// shape x element size, no two tensors sharing bytes) and the metadata (strings). Throws std::runtime_error
// "safetensors file '<path>': ..." naming the tensor where there is one.
SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, uint64_t size, const std::string& path);

// Bytes per element of a safetensors dtype name; 0 for a name this reader does not support.
int64_t safetensors_dtype_size(const std::string& dtype);

}  // namespace sageval::model
