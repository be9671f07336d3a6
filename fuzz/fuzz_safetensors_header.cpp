// The safetensors header and tensor table: the whole input is a file's bytes (length, JSON, data area).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "sageval/model/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sageval::fuzz::expect_clean_refusal([&] {
    const auto header = sageval::model::parse_safetensors_header(data, size, "fuzz.safetensors");
    // What the reader promises of what it accepts: every entry inside the data area, its bytes matching its shape.
    const uint64_t data_size = size - header.data_start;
    for (const auto& [name, e] : header.entries) {
      if (e.begin < 0 || e.begin > e.end || static_cast<uint64_t>(e.end) > data_size) std::abort();
      int64_t elements = sageval::model::safetensors_dtype_size(e.dtype);
      if (elements == 0) std::abort();
      for (int64_t d : e.shape) elements *= d;
      if (elements != e.end - e.begin) std::abort();
    }
  });
  return 0;
}
