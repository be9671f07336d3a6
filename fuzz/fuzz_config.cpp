// config.json: every field the loader reads, in any type and value.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "sageval/model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sageval::fuzz::expect_clean_refusal([&] {
    const auto c = sageval::model::parse_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz/config.json");
    // What the runner relies on of an accepted config.
    if (c.num_heads <= 0 || c.num_kv_heads <= 0 || c.head_dim <= 0 || c.num_layers <= 0 || c.hidden_size <= 0 ||
        c.vocab_size <= 0 || c.num_heads % c.num_kv_heads != 0)
      std::abort();
    sageval::model::config_to_json(c);
  });
  return 0;
}
