// Small helpers shared by the test files.
#pragma once

#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "sageval/record.h"

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

using sageval::remove_tree;  // sageval/record.h: not std::filesystem::remove_all, which crashes with pip libtorch

}  // namespace sageval::testing

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

// Model-level suites read WikiText-2/PTB through SAGEVAL_DATA_DIR; without it they skip, saying so.
#define SAGEVAL_REQUIRE_DATA_DIR()                                                                     \
  do {                                                                                                 \
    if (std::getenv("SAGEVAL_DATA_DIR") == nullptr)                                                    \
      GTEST_SKIP() << "SAGEVAL_DATA_DIR is not set: WikiText-2 and PTB are needed (scripts/fetch_data.sh)"; \
  } while (0)
