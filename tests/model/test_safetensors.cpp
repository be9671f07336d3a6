// The safetensors reader and writer: round trips of every dtype, the header layout, one specific error per kind
// of corrupt file, and sharded checkpoint folders.
#include <gtest/gtest.h>

#include "support/test_helpers.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "sageval/model/safetensors.h"

namespace sageval::model {
namespace {

namespace fs = std::filesystem;

using sageval::testing::error_of;

// Same dtype, shape and bytes (bit-exact, so NaN payloads and -0 count too).
void expect_same(const at::Tensor& got, const at::Tensor& want) {
  ASSERT_EQ(got.scalar_type(), want.scalar_type());
  ASSERT_EQ(got.sizes(), want.sizes());
  at::Tensor g = got.contiguous(), w = want.contiguous();
  // An empty tensor may have no storage: memcmp of a null pointer is undefined even for 0 bytes (UBSan).
  if (g.numel() > 0) ASSERT_EQ(std::memcmp(g.data_ptr(), w.data_ptr(), g.numel() * g.element_size()), 0);
}

// A raw file: 8-byte little-endian length, the header text as given, then `data_bytes` bytes.
void write_raw(const std::string& path, const std::string& header, size_t data_bytes, uint64_t length_field) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((length_field >> (8 * i)) & 0xff));
  out << header << std::string(data_bytes, '\x01');
}
void write_raw(const std::string& path, const std::string& header, size_t data_bytes) {
  write_raw(path, header, data_bytes, header.size());
}

uint64_t header_length(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char b[8] = {};
  in.read(reinterpret_cast<char*>(b), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
  return n;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           ("sageval_safetensors_" + std::to_string(::getpid()) + "_" + info->name());
    sageval::testing::remove_tree(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { sageval::testing::remove_tree(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// ---------------------------------------------------------------------------------------------------------
// Round trips

struct DtypeCase {
  const char* name;
  at::ScalarType type;
};

const DtypeCase kDtypeCases[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16}, {"I64", at::kLong},
    {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},   {"U8", at::kByte},       {"BOOL", at::kBool},
};

at::Tensor sample(at::ScalarType type, at::IntArrayRef shape) {
  if (type == at::kBool) return at::randint(0, 2, shape).to(at::kBool);
  if (at::isFloatingType(type)) return (at::randn(shape, at::kDouble) * 100).to(type);
  return at::randint(type == at::kByte ? 0 : -100, 100, shape).to(type);
}

TEST_F(SafetensorsTest, DtypeNamesMapBothWays) {
  for (const DtypeCase& c : kDtypeCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(scalar_type_from_safetensors(c.name), c.type);
    EXPECT_EQ(safetensors_dtype_name(c.type), c.name);
  }
  EXPECT_HAS(error_of([] { scalar_type_from_safetensors("F8_E4M3"); }), "F8_E4M3");
  EXPECT_HAS(error_of([] { safetensors_dtype_name(at::kComplexFloat); }), "no safetensors");
}

TEST_F(SafetensorsTest, RoundTripsEveryDtypeAndShape) {
  std::map<std::string, at::Tensor> tensors;
  for (const DtypeCase& c : kDtypeCases) {
    tensors[std::string(c.name) + ".matrix"] = sample(c.type, {3, 5});
    tensors[std::string(c.name) + ".scalar"] = sample(c.type, {});       // 0-d
    tensors[std::string(c.name) + ".empty"] = sample(c.type, {2, 0, 3});  // no elements
  }
  tensors["strided"] = at::arange(24, at::kFloat).reshape({4, 6}).t();   // not contiguous: written contiguously
  const std::string path = file("all.safetensors");
  write_safetensors(path, tensors);

  auto f = SafetensorsFile::open(path);
  ASSERT_EQ(f->entries().size(), tensors.size());
  for (const auto& [name, want] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(f->contains(name));
    EXPECT_EQ(f->entries().at(name).dtype, safetensors_dtype_name(want.scalar_type()));
    EXPECT_EQ(f->entries().at(name).shape, want.sizes().vec());
    expect_same(f->tensor(name), want);
    expect_same(f->tensor(name, /*copy=*/true), want);
  }
  EXPECT_EQ(f->tensor("F32.scalar").dim(), 0);
  EXPECT_TRUE(f->metadata().empty());
}

TEST_F(SafetensorsTest, ViewMapsTheFileAndCopyDoesNot) {
  const std::string path = file("view.safetensors");
  const at::Tensor want = at::arange(16, at::kFloat);
  write_safetensors(path, {{"w", want}});
  auto f = SafetensorsFile::open(path);
  at::Tensor view = f->tensor("w");
  at::Tensor copy = f->tensor("w", /*copy=*/true);
  EXPECT_NE(view.data_ptr(), copy.data_ptr());
  copy.add_(1);  // the copy is writable and independent of the mapping
  expect_same(f->tensor("w"), want);
  expect_same(view, want);
}

TEST_F(SafetensorsTest, MetadataRoundTrips) {
  const std::string path = file("meta.safetensors");
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "quotes \" and \\ and ünïcode"}, {"empty", ""}};
  write_safetensors(path, {{"a", at::ones({2})}}, meta);
  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f->metadata(), meta);
  EXPECT_FALSE(f->contains("__metadata__"));
  EXPECT_EQ(f->entries().size(), 1u);
}

TEST_F(SafetensorsTest, HeaderIsPaddedSoDataStartsOn8Bytes) {
  // Names of every length mod 8 move the natural header end around; the data must still start aligned.
  for (int len = 1; len <= 9; ++len) {
    SCOPED_TRACE(len);
    const std::string path = file("align" + std::to_string(len) + ".safetensors");
    write_safetensors(path, {{std::string(len, 'x'), at::ones({3}, at::kDouble)}});
    const uint64_t n = header_length(path);
    EXPECT_EQ((8 + n) % 8, 0u);
    EXPECT_EQ(fs::file_size(path), 8 + n + 3 * sizeof(double));
    auto f = SafetensorsFile::open(path);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(f->tensor(std::string(len, 'x')).data_ptr()) % 8, 0u);
  }
}

TEST_F(SafetensorsTest, EntriesAreLaidOutInSortedOrderWithoutGaps) {
  const std::string path = file("order.safetensors");
  write_safetensors(path, {{"b", at::ones({2}, at::kFloat)}, {"a", at::ones({3}, at::kHalf)}, {"c", at::ones({1}, at::kLong)}});
  auto f = SafetensorsFile::open(path);
  const auto& e = f->entries();
  EXPECT_EQ(e.at("a").begin, 0);
  EXPECT_EQ(e.at("a").end, 6);
  EXPECT_EQ(e.at("b").begin, 6);
  EXPECT_EQ(e.at("b").end, 14);
  EXPECT_EQ(e.at("c").begin, 14);
  EXPECT_EQ(e.at("c").end, 22);
}

TEST_F(SafetensorsTest, WriterRejectsUnsupportedDtypeNamingTheTensorAndLeavesNoFile) {
  const std::string path = file("bad.safetensors");
  const std::string msg = error_of([&] { write_safetensors(path, {{"ok", at::ones({2})}, {"cplx", at::ones({2}, at::kComplexFloat)}}); });
  EXPECT_HAS(msg, path);
  EXPECT_HAS(msg, "'cplx'");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_empty(dir_));  // no temp file either
}

TEST_F(SafetensorsTest, WriterIntoMissingFolderFailsNamingTheFile) {
  const std::string path = file("no/such/folder/x.safetensors");
  EXPECT_HAS(error_of([&] { write_safetensors(path, {{"a", at::ones({2})}}); }), path);
}

// ---------------------------------------------------------------------------------------------------------
// Corrupt files: each defect gives its own message naming the file (and the tensor where there is one).

struct CorruptCase {
  const char* label;
  std::string header;    // JSON header text as written
  size_t data_bytes;     // bytes after the header
  int64_t length_delta;  // added to the true header length in the length field
  std::vector<std::string> expect;  // parts of the message besides the path
};

TEST_F(SafetensorsTest, CorruptHeadersGiveSpecificErrors) {
  const std::vector<CorruptCase> cases = {
      {"header length beyond the file", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4, 1000,
       {"runs past the end"}},
      {"header length beyond the cap", "{}", 0, int64_t{1} << 40, {"beyond the cap"}},
      {"invalid JSON", R"({"a": {"dtype": "F32", )", 0, 0, {"not valid JSON"}},
      {"header not an object", "[1, 2]", 0, 0, {"not a JSON object"}},
      {"unknown dtype", R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}})", 2, 0, {"tensor 'w'", "unknown", "'Q4'"}},
      {"negative shape", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, 0, {"tensor 'w'", "shape"}},
      {"missing offsets", R"({"w":{"dtype":"F32","shape":[1]}})", 4, 0, {"tensor 'w'", "data_offsets"}},
      {"offsets reversed", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", 4, 0, {"tensor 'w'", "[4, 0]"}},
      {"offsets beyond the data area", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, 0,
       {"tensor 'w'", "data_offsets [0, 16] exceed the data area of 8 bytes"}},
      {"size mismatch", R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 16, 0,
       {"tensor 'w'", "span 12 bytes", "needs 16 bytes"}},
      {"overlapping entries",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       12, 0, {"tensor 'b'", "overlap", "'a'"}},
      {"metadata not strings", R"({"__metadata__":{"k":1}})", 0, 0, {"__metadata__", "'k'"}},
      // JSON keeps one value per key: a name given twice would lose its first entry without a word.
      {"duplicate tensor name",
       R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8,
       0, {"names 'w' more than once"}},
      {"duplicate metadata", R"({"__metadata__":{},"__metadata__":{}})", 0, 0, {"names '__metadata__' more than once"}},
  };
  for (const CorruptCase& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string path = file("corrupt.safetensors");
    write_raw(path, c.header, c.data_bytes, static_cast<uint64_t>(static_cast<int64_t>(c.header.size()) + c.length_delta));
    const std::string msg = error_of([&] { SafetensorsFile::open(path); });
    EXPECT_HAS(msg, "'" + path + "'");
    for (const std::string& part : c.expect) EXPECT_HAS(msg, part);
  }
}

TEST_F(SafetensorsTest, FileShorterThan8Bytes) {
  const std::string path = file("short.safetensors");
  { std::ofstream(path, std::ios::binary) << "abcd"; }
  const std::string msg = error_of([&] { SafetensorsFile::open(path); });
  EXPECT_HAS(msg, "'" + path + "'");
  EXPECT_HAS(msg, "shorter than the 8-byte header length");
}

TEST_F(SafetensorsTest, MissingFileNamesIt) {
  const std::string path = file("absent.safetensors");
  const std::string msg = error_of([&] { SafetensorsFile::open(path); });
  EXPECT_HAS(msg, "'" + path + "'");
  EXPECT_HAS(msg, "cannot open");
}

TEST_F(SafetensorsTest, TruncatedFileReportsOffsetsBeyondTheDataArea) {
  const std::string path = file("trunc.safetensors");
  write_safetensors(path, {{"a", at::ones({4})}, {"z", at::ones({4})}});  // z holds the last 16 bytes
  fs::resize_file(path, fs::file_size(path) - 3);
  const std::string msg = error_of([&] { SafetensorsFile::open(path); });
  EXPECT_HAS(msg, "'" + path + "'");
  EXPECT_HAS(msg, "tensor 'z'");
  EXPECT_HAS(msg, "data_offsets [16, 32] exceed the data area of 29 bytes (truncated or corrupt file?)");
}

TEST_F(SafetensorsTest, MissingTensorNamesFileAndTensor) {
  const std::string path = file("one.safetensors");
  write_safetensors(path, {{"a", at::ones({2})}});
  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(error_of([&] { f->tensor("nope"); }), "safetensors file '" + path + "' has no tensor 'nope'");
}

TEST_F(SafetensorsTest, MisalignedDataIsReadCorrectly) {
  // A foreign writer may leave the header unpadded; the reader then copies rather than viewing misaligned bytes.
  const std::string header = R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})";
  ASSERT_NE(header.size() % 8, 0u);
  const std::string path = file("misaligned.safetensors");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((header.size() >> (8 * i)) & 0xff));
    const double values[2] = {1.5, -2.25};
    out << header;
    out.write(reinterpret_cast<const char*>(values), sizeof values);
  }
  auto f = SafetensorsFile::open(path);
  expect_same(f->tensor("w"), at::tensor({1.5, -2.25}, at::kDouble));
}

// ---------------------------------------------------------------------------------------------------------
// Checkpoint folders

void write_index(const fs::path& folder, const std::string& weight_map_json) {
  std::ofstream(folder / "model.safetensors.index.json") << R"({"metadata": {"total_size": 0}, "weight_map": )"
                                                        << weight_map_json << "}";
}

TEST_F(SafetensorsTest, CheckpointSingleFile) {
  const at::Tensor a = at::randn({2, 3}), b = at::arange(5, at::kLong);
  write_safetensors(file("model.safetensors"), {{"a", a}, {"b", b}});
  SafetensorsCheckpoint ck = SafetensorsCheckpoint::open(dir_.string());
  EXPECT_EQ(ck.folder(), dir_.string());
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(ck.contains("a"));
  EXPECT_FALSE(ck.contains("c"));
  expect_same(ck.tensor("a"), a);
  expect_same(ck.tensor("b"), b);
  EXPECT_EQ(ck.file_of("b"), file("model.safetensors"));
}

TEST_F(SafetensorsTest, CheckpointShardedLoads) {
  const at::Tensor a = at::randn({4}), b = at::randn({2, 2}).to(at::kBFloat16), c = at::randn({3}).to(at::kHalf);
  write_safetensors(file("model-00001-of-00002.safetensors"), {{"a", a}, {"b", b}});
  write_safetensors(file("model-00002-of-00002.safetensors"), {{"c", c}, {"unlisted", at::ones({1})}});
  write_index(dir_, R"({"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                        "c": "model-00002-of-00002.safetensors"})");
  at::Tensor kept;
  {
    SafetensorsCheckpoint ck = SafetensorsCheckpoint::open(dir_.string());
    EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b", "c"}));  // the index decides
    expect_same(ck.tensor("a"), a);
    expect_same(ck.tensor("b"), b);
    expect_same(ck.tensor("c"), c);
    EXPECT_EQ(ck.file_of("a"), file("model-00001-of-00002.safetensors"));
    EXPECT_EQ(ck.file_of("c"), file("model-00002-of-00002.safetensors"));
    kept = ck.tensor("c");
  }
  expect_same(kept, c);  // a view keeps its shard mapped after the checkpoint object is gone
}

TEST_F(SafetensorsTest, CheckpointIndexWinsOverSingleFile) {
  write_safetensors(file("model.safetensors"), {{"old", at::ones({1})}});
  write_safetensors(file("shard.safetensors"), {{"new", at::ones({1})}});
  write_index(dir_, R"({"new": "shard.safetensors"})");
  EXPECT_EQ(SafetensorsCheckpoint::open(dir_.string()).names(), std::vector<std::string>{"new"});
}

TEST_F(SafetensorsTest, CheckpointMissingShard) {
  write_safetensors(file("model-00001-of-00002.safetensors"), {{"a", at::ones({1})}});
  write_index(dir_, R"({"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"})");
  const std::string msg = error_of([&] { SafetensorsCheckpoint::open(dir_.string()); });
  EXPECT_HAS(msg, file("model.safetensors.index.json"));
  EXPECT_HAS(msg, file("model-00002-of-00002.safetensors"));
  EXPECT_HAS(msg, "'b'");
  EXPECT_HAS(msg, "missing");
}

TEST_F(SafetensorsTest, CheckpointTensorListedButAbsentFromShard) {
  write_safetensors(file("shard.safetensors"), {{"a", at::ones({1})}});
  write_index(dir_, R"({"a": "shard.safetensors", "ghost": "shard.safetensors"})");
  const std::string msg = error_of([&] { SafetensorsCheckpoint::open(dir_.string()); });
  EXPECT_HAS(msg, file("model.safetensors.index.json"));
  EXPECT_HAS(msg, file("shard.safetensors"));
  EXPECT_HAS(msg, "'ghost'");
}

TEST_F(SafetensorsTest, CheckpointCorruptShardNamesTheShard) {
  { std::ofstream(file("shard.safetensors"), std::ios::binary) << "xy"; }
  write_index(dir_, R"({"a": "shard.safetensors"})");
  EXPECT_HAS(error_of([&] { SafetensorsCheckpoint::open(dir_.string()); }), file("shard.safetensors"));
}

TEST_F(SafetensorsTest, CheckpointIndexWithoutWeightMap) {
  std::ofstream(dir_ / "model.safetensors.index.json") << R"({"metadata": {}})";
  const std::string msg = error_of([&] { SafetensorsCheckpoint::open(dir_.string()); });
  EXPECT_HAS(msg, file("model.safetensors.index.json"));
  EXPECT_HAS(msg, "weight_map");
}

TEST_F(SafetensorsTest, CheckpointFolderWithNeitherFile) {
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint::open(dir_.string()); }),
            "checkpoint folder '" + dir_.string() + "' has neither model.safetensors nor model.safetensors.index.json");
}

TEST_F(SafetensorsTest, CheckpointUnknownTensorNamesFolderAndTensor) {
  write_safetensors(file("model.safetensors"), {{"a", at::ones({1})}});
  SafetensorsCheckpoint ck = SafetensorsCheckpoint::open(dir_.string());
  const std::string msg = error_of([&] { ck.tensor("nope"); });
  EXPECT_HAS(msg, dir_.string());
  EXPECT_HAS(msg, "'nope'");
  EXPECT_HAS(error_of([&] { ck.file_of("nope"); }), "'nope'");
}

}  // namespace
}  // namespace sageval::model
