// Run-time options of the test executables, parsed by the shared test main after GoogleTest has taken its
// own flags: `--attention-backend NAME` (or SAGEVAL_ATTENTION_BACKEND) names the candidate backend where a
// suite compares "the candidate" against references.
#pragma once

#include <cstdint>
#include <string>

namespace sageval::testing {

const std::string& candidate_backend();  // default: sage_int8

// Model-level suite settings from the environment (names in the README): the value, or `fallback` when unset.
std::string env_or(const char* name, const std::string& fallback);
int64_t env_int_or(const char* name, int64_t fallback);

// SAGEVAL_MODEL, or the bundled default model.
std::string suite_model_dir();

}  // namespace sageval::testing
