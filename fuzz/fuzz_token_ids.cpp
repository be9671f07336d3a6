// The token-id file (--tokens-file): whitespace-separated non-negative integers.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "sageval/model/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sageval::fuzz::input_file(data, size, "tokens.txt");
  sageval::fuzz::expect_clean_refusal([&] {
    for (int64_t id : sageval::model::read_token_ids(path))
      if (id < 0) std::abort();
  });
  return 0;
}
