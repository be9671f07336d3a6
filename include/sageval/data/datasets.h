// The registry of the data sets sageval reads: the evaluation sets (WikiText-2 raw and Penn Treebank, test and
// validation splits) and the training corpus, each with its path under SAGEVAL_DATA_DIR, byte size, SHA-256
// and licence. resolve_dataset() gives a verified absolute path: a file that is missing or whose checksum
// differs from the registry's is an error that says how to get the right one (scripts/fetch_data.sh DIR).
// The data files themselves never enter the repository.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sageval::data {

struct DatasetInfo {
  std::string name;           // registry name, e.g. "wikitext2-test"
  std::string relative_path;  // under SAGEVAL_DATA_DIR, e.g. "wikitext-2-raw/wiki.test.raw"
  std::string sha256;         // 64 lower-case hex digits
  int64_t bytes = 0;          // file size
  std::string licence;
  std::string split;          // "test", "valid" or "train" (training text)
};

// Every registered data set, in a fixed order.
const std::vector<DatasetInfo>& known_datasets();

// The registry entry of `name`. Throws std::runtime_error listing the known names when there is none.
const DatasetInfo& dataset_info(const std::string& name);

// The data folder: $SAGEVAL_DATA_DIR made absolute. Throws when the variable is unset or empty, saying to set it
// or to run scripts/fetch_data.sh.
std::string data_dir();

// The absolute path of data set `name` under data_dir(), after checking that the file is there and that its
// SHA-256 matches the registry. Throws std::runtime_error for an unknown name (listing the known ones), a
// missing file (naming the path, the expected SHA-256 and scripts/fetch_data.sh) or a checksum mismatch (naming
// the path, the expected and the actual SHA-256). A verified file is not hashed again in this process unless its
// size or modification time changes.
std::string resolve_dataset(const std::string& name);

// What resolve_dataset() does for one entry and folder; public so that tests can pass synthetic entries.
std::string resolve_dataset_in(const DatasetInfo& info, const std::string& dir);

// A data file the user names (no registry entry, no checksum): its absolute path, after checking that it exists,
// is a regular file and can be opened for reading. Throws std::runtime_error naming the file otherwise.
std::string resolve_user_data(const std::string& path);

// The whole file, byte for byte (no newline translation). Throws std::runtime_error naming the file.
std::string read_text_file(const std::string& path);

}  // namespace sageval::data
