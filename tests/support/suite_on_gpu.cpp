#include "support/suite_settings.h"

namespace sageval::testing {
bool suites_on_gpu() { return true; }
}  // namespace sageval::testing
