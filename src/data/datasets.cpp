// The data-set registry; see the header. The sets, checksums and sizes come from data/datasets.tsv (compiled in
// by cmake/dataset_registry.cmake), the same file scripts/fetch_data.sh verifies downloads against.
#include "sageval/data/datasets.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "sageval/data/sha256.h"

namespace sageval::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFetchScript = "scripts/fetch_data.sh";

std::string known_names() {
  std::string out;
  for (const DatasetInfo& d : known_datasets()) out += (out.empty() ? "" : ", ") + d.name;
  return out;
}

// What identifies a verified file: its path and the checksum it was checked against; the size and modification
// time it had then tell when it must be hashed again.
struct Verified {
  uintmax_t size = 0;
  fs::file_time_type mtime{};
};

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::pair<std::string, std::string>, Verified>& cache() {
  static std::map<std::pair<std::string, std::string>, Verified> c;
  return c;
}

std::string absolute_normal(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(path), ec);
  if (ec) p = fs::path(path);
  return p.lexically_normal().string();
}

}  // namespace

const std::vector<DatasetInfo>& known_datasets() {
  static const std::vector<DatasetInfo> kDatasets = {
#include "sageval/dataset_registry.inc"
  };
  return kDatasets;
}

const DatasetInfo& dataset_info(const std::string& name) {
  for (const DatasetInfo& d : known_datasets())
    if (d.name == name) return d;
  throw std::runtime_error(fmt::format("unknown data set '{}'; known data sets: {}", name, known_names()));
}

std::string data_dir() {
  const char* env = std::getenv("SAGEVAL_DATA_DIR");
  if (env == nullptr || *env == '\0')
    throw std::runtime_error(fmt::format(
        "SAGEVAL_DATA_DIR is not set: set it to the folder that holds the data sets (wikitext-2-raw/, ptb/, "
        "corpus/), or run {} DIR to download the evaluation sets into DIR and then set SAGEVAL_DATA_DIR=DIR",
        kFetchScript));
  return absolute_normal(env);
}

std::string resolve_dataset(const std::string& name) {
  const DatasetInfo& info = dataset_info(name);  // an unknown name fails before the folder is asked for
  return resolve_dataset_in(info, data_dir());
}

std::string resolve_dataset_in(const DatasetInfo& info, const std::string& dir) {
  const std::string path = absolute_normal((fs::path(dir) / info.relative_path).string());
  const auto key = std::make_pair(path, info.sha256);

  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    const std::string how =
        info.split == "train"
            ? fmt::format("the training corpus is not downloaded by {}; copy '{}' into '{}' by hand", kFetchScript,
                          info.relative_path, dir)
            : fmt::format("get it with: {} {}", kFetchScript, dir);
    throw std::runtime_error(fmt::format("data set '{}': file '{}' is missing (expected SHA-256 {}); {}", info.name,
                                         path, info.sha256, how));
  }
  if (!fs::is_regular_file(status))
    throw std::runtime_error(fmt::format("data set '{}': '{}' is not a regular file", info.name, path));

  const uintmax_t size = fs::file_size(path, ec);
  const fs::file_time_type mtime = fs::last_write_time(path, ec);
  {
    std::lock_guard<std::mutex> lock(cache_mutex());
    auto it = cache().find(key);
    if (it != cache().end() && it->second.size == size && it->second.mtime == mtime) return path;
  }

  const std::string actual = sha256_file(path);
  if (actual != info.sha256) {
    std::string size_note;
    if (info.bytes > 0 && static_cast<uintmax_t>(info.bytes) != size)
      size_note = fmt::format(" (size {} bytes, expected {})", size, info.bytes);
    throw std::runtime_error(fmt::format(
        "data set '{}': checksum mismatch for '{}'{}: expected SHA-256 {}, actual {}; the file is altered or a "
        "different version: replace it (for the evaluation sets: {} {})",
        info.name, path, size_note, info.sha256, actual, kFetchScript, dir));
  }
  std::lock_guard<std::mutex> lock(cache_mutex());
  cache()[key] = Verified{size, mtime};
  return path;
}

std::string resolve_user_data(const std::string& path) {
  if (path.empty()) throw std::runtime_error("user data file: empty path");
  const std::string abs = absolute_normal(path);
  std::error_code ec;
  const fs::file_status status = fs::status(abs, ec);
  if (!fs::exists(status))
    throw std::runtime_error(fmt::format("user data file '{}' does not exist (resolved to '{}')", path, abs));
  if (!fs::is_regular_file(status))
    throw std::runtime_error(fmt::format("user data file '{}' is not a regular file", abs));
  std::ifstream in(abs, std::ios::binary);
  if (!in)
    throw std::runtime_error(fmt::format("user data file '{}' cannot be opened for reading: {}", abs,
                                         std::strerror(errno)));
  return abs;
}

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw std::runtime_error(fmt::format("cannot read '{}': it is a folder", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot open '{}' for reading: {}", path, std::strerror(errno)));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw std::runtime_error(fmt::format("error while reading '{}'", path));
  return out.str();
}

}  // namespace sageval::data
