// thresholds.json, then the lookups the suites make (JSON pointers into it).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "sageval/thresholds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sageval::fuzz::input_file(data, size, "thresholds.json");
  sageval::fuzz::expect_clean_refusal([&] {
    const sageval::Thresholds t = sageval::Thresholds::load(path);
    for (const char* key : {"/attention/sage_int8/gaussian/min_cosine", "/attention/fp16/gaussian/max_rel_l1",
                            "/model/context_length/min_top1_agreement", "/model/perplexity/max_ppl_ratio_delta", "/0", "",
                            "/attention/0/x"})
      sageval::fuzz::expect_clean_refusal([&] { t.find_number(key); });
  });
  return 0;
}
