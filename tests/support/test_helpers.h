// Small helpers shared by the test files.
#pragma once

#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace sageval::testing {

// The message of the std::runtime_error that `fn` throws ("" and a test failure when it throws none).
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no std::runtime_error was thrown";
  return "";
}

}  // namespace sageval::testing

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

namespace sageval::testing {
// Why tests that read WikiText-2/PTB cannot run ("" when SAGEVAL_DATA_DIR is set).
inline std::string missing_data_dir_reason() {
  return std::getenv("SAGEVAL_DATA_DIR") != nullptr
             ? ""
             : "SAGEVAL_DATA_DIR is not set: WikiText-2 and PTB are needed (scripts/fetch_data.sh)";
}
}  // namespace sageval::testing

// Tests that read WikiText-2/PTB skip, saying so, without SAGEVAL_DATA_DIR.
#define SAGEVAL_REQUIRE_DATA_DIR()                                                         \
  do {                                                                                     \
    const std::string why_skip = ::sageval::testing::missing_data_dir_reason();           \
    if (!why_skip.empty()) GTEST_SKIP() << why_skip;                                       \
  } while (0)
