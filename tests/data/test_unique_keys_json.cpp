// JSON read from users' files refuses a key given twice in one object (sageval/unique_keys_json.h), at any
// depth, and only there: the same key in sibling objects, or in objects inside an array, is fine.
#include <gtest/gtest.h>

#include <string>

#include "sageval/unique_keys_json.h"

namespace sageval {
namespace {

std::string duplicate_in(const std::string& text) {
  std::string duplicate;
  parse_json_unique_keys(text.data(), text.data() + text.size(), duplicate);
  return duplicate;
}

TEST(UniqueKeysJson, AcceptsTheSameKeyInDifferentObjects) {
  EXPECT_EQ(duplicate_in(R"({"a": [{"x": 1}, {"x": 2}], "b": {"x": 3}, "c": {"x": {"x": 4}}})"), "");
  EXPECT_EQ(duplicate_in(R"([{"k": 1}, {"k": 2}])"), "");
}

TEST(UniqueKeysJson, NamesTheFirstKeyGivenTwiceInOneObject) {
  EXPECT_EQ(duplicate_in(R"({"a": 1, "a": 2})"), "a");
  EXPECT_EQ(duplicate_in(R"({"a": {"x": 1, "x": 2}})"), "x");
  // After a nested object closes, its keys no longer count, but the outer object's still do.
  EXPECT_EQ(duplicate_in(R"({"a": {"b": 1}, "b": 2, "a": 3})"), "a");
  EXPECT_EQ(duplicate_in(R"({"l": [{"k": 1, "k": 2}]})"), "k");
}

TEST(UniqueKeysJson, StillThrowsOnInvalidJson) {
  EXPECT_THROW(duplicate_in(R"({"a": )"), nlohmann::json::parse_error);
}

}  // namespace
}  // namespace sageval
