#include <gtest/gtest.h>

#include <cstdio>
#include <stdexcept>

#include "sageval/attention.h"
#include "support/test_options.h"

namespace sageval::testing {
namespace {
std::string g_candidate = "sage_int8";
}
const std::string& candidate_backend() { return g_candidate; }
}  // namespace sageval::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  try {
    sageval::testing::g_candidate = sageval::select_backend_name(argc, argv, "sage_int8");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return RUN_ALL_TESTS();
}
