// The data-set registry: SHA-256 against the FIPS 180-2 / NIST known answers and in streaming use, and the
// registry's errors for a missing, altered or unknown data set, on synthetic files in a temporary folder. When
// SAGEVAL_DATA_DIR holds the real data (CI points it at ../shared/data), every registered set must verify.
#include <gtest/gtest.h>

#include "support/test_helpers.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>

#include "sageval/data/datasets.h"
#include "sageval/data/sha256.h"

namespace sageval::data {
namespace {

namespace fs = std::filesystem;

using sageval::testing::error_of;

// Sets (or unsets, with nullopt) SAGEVAL_DATA_DIR for one scope and restores what was there before.
class ScopedDataDir {
 public:
  explicit ScopedDataDir(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("SAGEVAL_DATA_DIR")) old_ = old;
    if (value)
      setenv("SAGEVAL_DATA_DIR", value->c_str(), 1);
    else
      unsetenv("SAGEVAL_DATA_DIR");
  }
  ~ScopedDataDir() {
    if (old_)
      setenv("SAGEVAL_DATA_DIR", old_->c_str(), 1);
    else
      unsetenv("SAGEVAL_DATA_DIR");
  }
  ScopedDataDir(const ScopedDataDir&) = delete;
  ScopedDataDir& operator=(const ScopedDataDir&) = delete;

 private:
  std::optional<std::string> old_;
};

// A fresh temporary folder per test, removed afterwards.
class DatasetRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("sageval_datasets_") + info->name() + "_" + std::to_string(::getpid()));
    sageval::testing::remove_tree(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { sageval::testing::remove_tree(dir_); }

  void write(const std::string& relative, const std::string& bytes) {
    fs::path p = dir_ / relative;
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  static DatasetInfo entry(const std::string& content) {
    return DatasetInfo{"synthetic-test", "synthetic/set.txt", sha256_hex(content),
                       static_cast<int64_t>(content.size()), "test only", "test"};
  }

  fs::path dir_;
};

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, OneMillionA) {
  Sha256 h;
  const std::string thousand(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(thousand.data(), thousand.size());
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Padding edge cases: lengths around the 55/56/64-byte boundaries, fed in odd-sized pieces, equal the one-shot
// digest; the object is reusable after hex_digest().
TEST(Sha256, StreamingInOddChunksEqualsOneShot) {
  std::string message;
  for (int i = 0; i < 5000; ++i) message.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  for (size_t length : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 5000}) {
    const std::string part = message.substr(0, length);
    const std::string want = sha256_hex(part);
    for (size_t chunk : {1, 3, 7, 13, 63, 64, 65, 1021}) {
      Sha256 h;
      for (size_t at = 0; at < part.size(); at += chunk) h.update(part.data() + at, std::min(chunk, part.size() - at));
      EXPECT_EQ(h.hex_digest(), want) << "length " << length << ", chunk " << chunk;
    }
  }
  Sha256 h;
  h.update(std::string("xyz"));
  h.hex_digest();
  h.update(std::string("abc"));
  EXPECT_EQ(h.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(DatasetRegistry, Sha256FileMatchesInMemoryAndNamesUnreadableFile) {
  std::string content(3 * (1 << 20) + 12345, '\0');  // spans several 1 MiB chunks
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 2654435761u >> 24);
  write("big.bin", content);
  EXPECT_EQ(sha256_file((dir_ / "big.bin").string()), sha256_hex(content));
  const std::string missing = (dir_ / "nope.bin").string();
  EXPECT_HAS(error_of([&] { sha256_file(missing); }), missing);
  EXPECT_HAS(error_of([&] { sha256_file(dir_.string()); }), dir_.string());
}

TEST_F(DatasetRegistry, CorrectFileResolvesToAbsolutePath) {
  static const char kBytes[] = "line one\r\nline two\n\0binary\xff";
  const std::string content(kBytes, sizeof kBytes - 1);  // CR LF, a NUL and a high byte survive unchanged
  write("synthetic/set.txt", content);
  const DatasetInfo info = entry(content);
  const std::string path = resolve_dataset_in(info, dir_.string());
  EXPECT_TRUE(fs::path(path).is_absolute());
  EXPECT_TRUE(fs::equivalent(path, dir_ / "synthetic/set.txt"));
  EXPECT_EQ(read_text_file(path), content);
  EXPECT_EQ(resolve_dataset_in(info, dir_.string()), path);  // the second call is served by the cache
}

TEST_F(DatasetRegistry, MissingFileNamesPathChecksumAndFetchScript) {
  const DatasetInfo info = entry("never written");
  const std::string msg = error_of([&] { resolve_dataset_in(info, dir_.string()); });
  EXPECT_HAS(msg, (dir_ / "synthetic/set.txt").lexically_normal().string());
  EXPECT_HAS(msg, info.sha256);
  EXPECT_HAS(msg, "scripts/fetch_data.sh " + dir_.string());
}

TEST_F(DatasetRegistry, AlteredFileNamesExpectedAndActualChecksum) {
  const std::string content = "the original text\n";
  const std::string altered = "the 0riginal text\n";
  write("synthetic/set.txt", altered);
  const DatasetInfo info = entry(content);
  const std::string msg = error_of([&] { resolve_dataset_in(info, dir_.string()); });
  EXPECT_HAS(msg, (dir_ / "synthetic/set.txt").lexically_normal().string());
  EXPECT_HAS(msg, "checksum mismatch");
  EXPECT_HAS(msg, info.sha256);
  EXPECT_HAS(msg, sha256_hex(altered));
}

// A file verified once and then changed is hashed again (its size or time changed), not served from the cache.
TEST_F(DatasetRegistry, FileChangedAfterVerificationIsCheckedAgain) {
  const std::string content = "verified content\n";
  write("synthetic/set.txt", content);
  const DatasetInfo info = entry(content);
  resolve_dataset_in(info, dir_.string());
  write("synthetic/set.txt", content + "appended\n");
  EXPECT_HAS(error_of([&] { resolve_dataset_in(info, dir_.string()); }), "checksum mismatch");
}

TEST_F(DatasetRegistry, UnknownNameListsKnownNames) {
  ScopedDataDir env(dir_.string());
  const std::string msg = error_of([] { resolve_dataset("wikitext103-test"); });
  EXPECT_HAS(msg, "wikitext103-test");
  for (const DatasetInfo& d : known_datasets()) EXPECT_HAS(msg, d.name);
}

TEST_F(DatasetRegistry, MissingRegisteredFileInEmptyDataDir) {
  ScopedDataDir env(dir_.string());
  const std::string msg = error_of([] { resolve_dataset("ptb-test"); });
  EXPECT_HAS(msg, "ptb/ptb.test.txt");
  EXPECT_HAS(msg, dataset_info("ptb-test").sha256);
  EXPECT_HAS(msg, "scripts/fetch_data.sh");
}

TEST_F(DatasetRegistry, UnsetDataDirSaysHowToSetIt) {
  ScopedDataDir env(std::nullopt);
  const std::string msg = error_of([] { data_dir(); });
  EXPECT_HAS(msg, "SAGEVAL_DATA_DIR");
  EXPECT_HAS(msg, "scripts/fetch_data.sh");
  EXPECT_HAS(error_of([] { resolve_dataset("wikitext2-test"); }), "SAGEVAL_DATA_DIR");
}

TEST_F(DatasetRegistry, RegistryEntriesAreWellFormed) {
  const char* expected[] = {"wikitext2-test",  "wikitext2-valid",    "ptb-test",     "ptb-valid",
                            "corpus-kjv", "corpus-shakespeare", "corpus-jargon"};
  for (const char* name : expected) {
    const DatasetInfo& d = dataset_info(name);
    EXPECT_EQ(d.sha256.size(), 64u) << name;
    EXPECT_EQ(d.sha256.find_first_not_of("0123456789abcdef"), std::string::npos) << name;
    EXPECT_GT(d.bytes, 0) << name;
    EXPECT_FALSE(d.licence.empty()) << name;
    EXPECT_TRUE(d.split == "test" || d.split == "valid" || d.split == "train") << name;
    EXPECT_EQ(d.split == "train", std::string(name).rfind("corpus-", 0) == 0) << name;
  }
  EXPECT_EQ(known_datasets().size(), std::size(expected));
  EXPECT_EQ(dataset_info("wikitext2-test").relative_path, "wikitext-2-raw/wiki.test.raw");
  EXPECT_EQ(dataset_info("ptb-test").relative_path, "ptb/ptb.test.txt");
}

TEST_F(DatasetRegistry, UserDataChecksExistenceOnly) {
  write("mine.txt", "any text");
  const std::string path = resolve_user_data((dir_ / "mine.txt").string());
  EXPECT_TRUE(fs::path(path).is_absolute());
  EXPECT_EQ(read_text_file(path), "any text");
  const std::string missing = (dir_ / "absent.txt").string();
  EXPECT_HAS(error_of([&] { resolve_user_data(missing); }), missing);
  EXPECT_HAS(error_of([&] { resolve_user_data(dir_.string()); }), "not a regular file");
  EXPECT_HAS(error_of([&] { read_text_file(missing); }), missing);
}

// With the real data (CI: SAGEVAL_DATA_DIR=../shared/data), every registered set is present and verifies.
TEST(DatasetRegistryRealData, EveryKnownDatasetResolvesAndVerifies) {
  if (std::getenv("SAGEVAL_DATA_DIR") == nullptr || *std::getenv("SAGEVAL_DATA_DIR") == '\0')
    GTEST_SKIP() << "SAGEVAL_DATA_DIR is unset: set it to the data folder (CI uses ../shared/data) or run "
                    "scripts/fetch_data.sh DIR to check the real data sets";
  for (const DatasetInfo& d : known_datasets()) {
    std::string path;
    EXPECT_NO_THROW(path = resolve_dataset(d.name)) << d.name;
    if (path.empty()) continue;
    EXPECT_EQ(static_cast<int64_t>(fs::file_size(path)), d.bytes) << d.name;
    EXPECT_EQ(resolve_dataset(d.name), path) << d.name;  // cached
  }
}

}  // namespace
}  // namespace sageval::data
