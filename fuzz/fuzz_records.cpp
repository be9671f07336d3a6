// The report's reader of a run's records: the input is a suite's JSONL file (the first line that starts with
// "RUN:" , if any, is run.json instead), then the report is rendered and judged.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_support.h"
#include "sageval/report/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size), run;
  if (text.rfind("RUN:", 0) == 0) {
    const size_t nl = text.find('\n');
    run = text.substr(4, nl == std::string::npos ? std::string::npos : nl - 4);
    text = nl == std::string::npos ? "" : text.substr(nl + 1);
  }
  const std::string records = sageval::fuzz::input_file(reinterpret_cast<const uint8_t*>(text.data()), text.size(),
                                                        "perplexity.jsonl");
  const std::string dir = records.substr(0, records.rfind('/'));
  sageval::fuzz::input_file(reinterpret_cast<const uint8_t*>(run.data()), run.size(), "run.json");
  if (run.empty()) std::remove((dir + "/run.json").c_str());
  sageval::fuzz::expect_clean_refusal([&] {
    const auto r = sageval::report::load_run(dir);
    sageval::report::render_report(r);
    sageval::report::run_passes(r);
    sageval::report::plan_verdicts(r);
  });
  return 0;
}
