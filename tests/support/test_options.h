// Run-time options of the test executables, parsed by the shared test main after GoogleTest has taken its
// own flags: `--attention-backend NAME` (or SAGEVAL_ATTENTION_BACKEND) names the candidate backend where a
// suite compares "the candidate" against references.
#pragma once

#include <string>

namespace sageval::testing {

const std::string& candidate_backend();  // default: sage_int8

}  // namespace sageval::testing
