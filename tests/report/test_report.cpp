// The report renderer and the run comparison on hand-made run directories.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>

#include "sageval/report/report.h"
#include "support/test_helpers.h"

namespace sageval::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json perplexity_record(const std::string& case_name, double ratio, bool pass) {
  return {{"suite", "perplexity"}, {"case", case_name}, {"candidate", "sage_int8"}, {"baseline", "fp16"}, {"device", "cpu"},
          {"figures", {{"dataset", "wikitext2-test"}, {"context", 1024}, {"sliding", false}, {"ppl_ratio", ratio},
                       {"ppl_ratio_unc", 0.001}, {"protocol", "disjoint windows of 1024 tokens"}}},
          {"gates", {{{"name", "|ppl_cand / ppl_base - 1| <= 0.01"}, {"measured", std::abs(ratio - 1)}, {"threshold", 0.01},
                      {"pass", pass}}}},
          {"pass", pass}};
}

json bench_doc(double median_ms) {
  return {{"benchmark", "sageval_model_bench"},
          {"environment", {{"libtorch", "x"}}},
          {"prefill", {{{"key", "prefill/sage_int8/B1_L512"}, {"backend", "sage_int8"}, {"batch", 1}, {"length", 512},
                        {"status", "ok"}, {"tokens_per_s", 512 / median_ms * 1e3}, {"attention_share", 0.5},
                        {"timing", {{"median_ms", median_ms}, {"min_ms", median_ms * 0.99}, {"max_ms", median_ms * 1.01}}}}}},
          {"decode", json::array()}, {"ttft", json::array()}, {"memory", json::array()}};
}

class RunDir : public ::testing::Test {
 protected:
  std::string make(const std::string& name, const std::vector<json>& records, const json& run_info,
                   const json& model_bench = nullptr) {
    const fs::path dir = fs::path(::testing::TempDir()) / ("sageval_report_" + name);
    remove_tree(dir);
    fs::create_directories(dir);
    std::ofstream f(dir / "perplexity.jsonl");
    for (const json& r : records) f << r.dump() << "\n";
    if (!run_info.is_null()) std::ofstream(dir / "run.json") << run_info.dump();
    if (!model_bench.is_null()) std::ofstream(dir / "model_bench.json") << model_bench.dump();
    return dir.string();
  }
};

TEST_F(RunDir, VerdictFirstFailuresShownAndSkippedSectionsSayWhy) {
  const json info = {{"commit", "abc1234"}, {"date", "2026-11-25T10:00Z"},
                     {"skipped", {{{"section", "kernel speed"}, {"reason", "no CUDA device on this machine"}}}}};
  const auto run = report::load_run(make("fail", {perplexity_record("A", 1.002, true), perplexity_record("B", 1.03, false)}, info));
  EXPECT_FALSE(report::run_passes(run));
  const std::string md = report::render_report(run);
  EXPECT_HAS(md, "**Verdict: FAIL**");
  EXPECT_HAS(md, "Not run: no CUDA device on this machine");
  EXPECT_HAS(md, "abc1234");
  EXPECT_HAS(md, "| **FAIL** |");
  const size_t verdicts = md.find("## Verdicts"), ppl = md.find("## Perplexity"), env = md.find("## Environment");
  ASSERT_NE(verdicts, std::string::npos);
  EXPECT_LT(verdicts, ppl);
  EXPECT_LT(ppl, env);
}

TEST_F(RunDir, DecodeStepSplitShowsAttentionShareBandwidthAndHowTheStepRan) {
  json bench = bench_doc(10.0);
  bench["copy_bandwidth"] = {{"status", "ok"}, {"gb_per_s_median", 4200.0}};
  auto decode = [](const std::string& backend, const std::string& mode) {
    json e = {{"key", "decode/" + backend + "/B8_L8192"}, {"backend", backend}, {"batch", 8}, {"context", 8192},
              {"status", "ok"}, {"tokens_per_s", 12000.0}, {"timing", {{"median_ms", 0.62}, {"min_ms", 0.6}, {"max_ms", 0.7}}},
              {"decode_mode", mode}, {"attention_ms", 0.159}, {"attention_share", 0.26}, {"attention_gb_per_s", 2527.0},
              {"attention_fraction_of_copy", 0.60}};
    if (mode != "graph") e["decode_mode_reason"] = "attention backend 'sdpa' (layer 0) does not take kv_lengths on CUDA";
    return e;
  };
  bench["decode"] = {decode("fp16", "graph"), decode("sdpa", "forward")};
  const std::string md = report::render_report(report::load_run(make("decode_split", {}, nullptr, bench)));
  EXPECT_HAS(md, "### Decode step: attention and the rest");
  EXPECT_HAS(md, "(4200 GB/s)");
  EXPECT_HAS(md, "| fp16 | 8 | 8192 | 0.620 | 0.159 | 0.26 | 2527 | 0.60 | CUDA graph |");
  EXPECT_HAS(md, "kernel by kernel (attention backend 'sdpa' (layer 0) does not take kv_lengths on CUDA)");
  // A run from before these figures gets no such table.
  const std::string old = report::render_report(report::load_run(make("decode_old", {}, nullptr, bench_doc(10.0))));
  EXPECT_EQ(old.find("Decode step: attention"), std::string::npos);
}

TEST_F(RunDir, RerunReplacesTheEarlierRecordOfACase) {
  const auto run = report::load_run(make("rerun", {perplexity_record("A", 1.03, false), perplexity_record("A", 1.001, true)}, nullptr));
  ASSERT_EQ(run.records.at("perplexity").size(), 1u);
  EXPECT_TRUE(report::run_passes(run));
}

TEST_F(RunDir, FailedSuiteRunFailsTheVerdictWithoutAnyGate) {
  const json info = {{"suites", {{{"name", "sageval_model_tests"}, {"status", "failed"}, {"exit_code", 1}}}}};
  const auto run = report::load_run(make("suitefail", {perplexity_record("A", 1.0, true)}, info));
  EXPECT_FALSE(report::run_passes(run));
  EXPECT_HAS(report::render_report(run), "exit status == 0");
}

TEST_F(RunDir, NamesTheGpuOfEachStepAndSaysWhenModelsDiffer) {
  const json h200 = {{"ordinal", 0}, {"name", "NVIDIA H200"}, {"uuid", "GPU-a"}};
  const json h100 = {{"ordinal", 1}, {"name", "NVIDIA H100 80GB HBM3"}, {"uuid", "GPU-b"}};
  json info = {{"suites", {{{"name", "kernel speed"}, {"status", "passed"}, {"exit_code", 0}, {"gpu", h200}},
                           {{"name", "model suites (GPU sizes)"}, {"status", "passed"}, {"exit_code", 0}, {"gpu", h100}}}},
               {"gpus", {h200, h100}}};
  std::string md = report::render_report(report::load_run(make("gpus_differ", {perplexity_record("A", 1.0, true)}, info)));
  EXPECT_HAS(md, "| model suites (GPU sizes) | passed | - | GPU 1: NVIDIA H100 80GB HBM3 |");
  EXPECT_HAS(md, "**The steps ran on GPUs of different models** (NVIDIA H100 80GB HBM3, NVIDIA H200)");
  EXPECT_HAS(md, "GPU 0: NVIDIA H200 GPU-a; GPU 1: NVIDIA H100 80GB HBM3 GPU-b");
  // Each section says where its steps ran.
  EXPECT_HAS(md, "## Kernel speed\n\n_Ran on GPU 0: NVIDIA H200 (kernel speed)._");
  EXPECT_HAS(md, "## Perplexity\n\n_Ran on GPU 1: NVIDIA H100 80GB HBM3 (model suites (GPU sizes))._");
  info["gpus"][1]["name"] = "NVIDIA H200";
  info["suites"][1]["gpu"]["name"] = "NVIDIA H200";
  md = report::render_report(report::load_run(make("gpus_same", {perplexity_record("A", 1.0, true)}, info)));
  EXPECT_EQ(md.find("different models"), std::string::npos);
  EXPECT_HAS(md, "| kernel speed | passed | - | GPU 0: NVIDIA H200 |");
}

TEST_F(RunDir, AnUnfinishedRunHasNoVerdictAndItsOwnReportFile) {
  const json info = {{"incomplete", {"step 'model suites' was ended by signal 9 (Killed)"}},
                     {"suites", {{{"name", "model suites"}, {"status", "killed"}, {"exit_code", 137}}}}};
  const auto run = report::load_run(make("unfinished", {perplexity_record("A", 1.0, true)}, info));
  EXPECT_EQ(report::incomplete_reasons(run), std::vector<std::string>{"step 'model suites' was ended by signal 9 (Killed)"});
  EXPECT_FALSE(report::run_passes(run));
  EXPECT_EQ(fs::path(report::default_report_path(run)).filename(), "REPORT.incomplete.md");
  const std::string md = report::render_report(run);
  EXPECT_HAS(md, "**No verdict: the run did not finish**");
  EXPECT_HAS(md, "**Incomplete run:**");
  EXPECT_HAS(md, "- step 'model suites' was ended by signal 9 (Killed)");
  const auto finished = report::load_run(make("finished", {perplexity_record("A", 1.0, true)}, json::object()));
  EXPECT_TRUE(report::incomplete_reasons(finished).empty());
  EXPECT_EQ(fs::path(report::default_report_path(finished)).filename(), "REPORT.md");
}

TEST_F(RunDir, ATruncatedRecordMarksItsSection) {
  const std::string dir = make("truncated", {perplexity_record("A", 1.0, true), perplexity_record("B", 1.0, true)}, nullptr);
  {
    std::ofstream f(fs::path(dir) / "perplexity.jsonl", std::ios::app);
    f << R"({"suite": "perplexity", "case": "C", "fig)";  // a line cut short
  }
  const auto run = report::load_run(dir);
  EXPECT_EQ(run.records.at("perplexity").size(), 2u);  // the rest is read
  const std::string md = report::render_report(run);
  const size_t section = md.find("## Perplexity");
  ASSERT_NE(section, std::string::npos);
  EXPECT_NE(md.find("_Incomplete: `perplexity.jsonl:3: not a JSON record", section), std::string::npos) << md;
  EXPECT_FALSE(report::run_passes(run));
}

// Found by fuzz_records (fuzz/): a gate without "measured" (or "pass") read as a record made the renderer index
// a missing key (an assertion in a debug build, undefined behaviour in a release one). Such lines are now
// unreadable records, named with file and line; a run.json field of the wrong type is an error naming the folder.
struct BadRecord {
  const char* label;
  json record;
  const char* reason;
};

class RunDirBadRecords : public RunDir, public ::testing::WithParamInterface<BadRecord> {};

TEST_P(RunDirBadRecords, AreUnreadableWithTheReason) {
  const auto run = report::load_run(make(std::string("bad_") + GetParam().label, {perplexity_record("A", 1.0, true), GetParam().record}, nullptr));
  ASSERT_EQ(run.unreadable.size(), 1u);
  EXPECT_HAS(run.unreadable[0], std::string("perplexity.jsonl:2: record ") + GetParam().reason);
  EXPECT_FALSE(report::run_passes(run));
  EXPECT_HAS(report::render_report(run), "_Incomplete: `perplexity.jsonl:2: record");
}

json with_gate(const std::function<void(json&)>& change) {
  json r = perplexity_record("B", 1.0, true);
  change(r);
  return r;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RunDirBadRecords,
    ::testing::Values(
        BadRecord{"GateWithoutMeasured", with_gate([](json& r) { r["gates"][0].erase("measured"); }), "gate 0 has no \"measured\""},
        BadRecord{"GateWithoutThreshold", with_gate([](json& r) { r["gates"][0].erase("threshold"); }), "gate 0 has no \"threshold\""},
        BadRecord{"GateWithoutPass", with_gate([](json& r) { r["gates"][0].erase("pass"); }), "gate 0 has no \"pass\""},
        BadRecord{"GatePassNotBool", with_gate([](json& r) { r["gates"][0]["pass"] = 1; }), "gate 0 has no \"pass\""},
        BadRecord{"GateNotObject", with_gate([](json& r) { r["gates"][0] = 3; }), "gate 0 is not a JSON object"},
        BadRecord{"GateBadDirection", with_gate([](json& r) { r["gates"][0]["direction"] = "<"; }), "gate 0 has a \"direction\" other than"},
        BadRecord{"CaseNotString", with_gate([](json& r) { r["case"] = 7; }), "has no string \"case\""},
        BadRecord{"GatesNotArray", with_gate([](json& r) { r["gates"] = json::object(); }), "has no array \"gates\""},
        BadRecord{"CandidateNotString", with_gate([](json& r) { r["candidate"] = json::array(); }), "has a \"candidate\" that is not a string"},
        BadRecord{"NotAnObject", json::array({1, 2}), "is not a JSON object"}),
    [](const ::testing::TestParamInfo<BadRecord>& info) { return std::string(info.param.label); });

TEST_F(RunDir, ARunJsonFieldOfTheWrongTypeIsAnErrorNamingTheFolder) {
  const json info = {{"candidate", 5}, {"suites", json::array()}};
  const std::string dir = make("run_json_type", {perplexity_record("A", 1.0, true)}, info);
  try {
    report::render_report(report::load_run(dir));
    FAIL() << "rendered";
  } catch (const nlohmann::json::exception& e) {
    FAIL() << "a JSON library error escaped: " << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_HAS(e.what(), dir);
    EXPECT_HAS(e.what(), "unexpected type");
  }
}

TEST_F(RunDir, EmptyRunIsNotAPass) {
  const auto run = report::load_run(make("empty", {}, nullptr));
  EXPECT_FALSE(report::run_passes(run));
  EXPECT_HAS(report::render_report(run), "No gates were evaluated");
}

TEST_F(RunDir, TruncatedRecordIsNamedTheRestKeptAndTheRunIncomplete) {
  // A run killed while writing: its last line is cut off mid-record, a later suite's records are whole.
  const std::string dir = make("bad", {perplexity_record("A", 1.0, true), perplexity_record("B", 1.0, true)}, nullptr);
  std::ofstream(fs::path(dir) / "perplexity.jsonl", std::ios::app) << "{\"suite\": \"perplexity\", \"case\": \"C\", \"fig";
  const auto run = report::load_run(dir);
  ASSERT_EQ(run.unreadable.size(), 1u);
  EXPECT_HAS(run.unreadable[0], "perplexity.jsonl:3");
  EXPECT_EQ(run.records.at("perplexity").size(), 2u) << "the readable records are kept";
  EXPECT_FALSE(report::run_passes(run)) << "what the lost record held is unknown";
  const std::string md = report::render_report(run);
  EXPECT_HAS(md, "**Incomplete:** 1 record line(s) could not be read");
  EXPECT_HAS(md, "perplexity.jsonl:3");
  EXPECT_HAS(error_of([] { report::load_run("/nonexistent/sageval/report"); }), "does not exist");
}

TEST_F(RunDir, ComparisonShowsVerdictFlipAndTimingRegression) {
  const auto old_run = report::load_run(make("old", {perplexity_record("A", 1.001, true)}, nullptr, bench_doc(10.0)));
  const auto new_run = report::load_run(make("new", {perplexity_record("A", 1.02, false)}, nullptr, bench_doc(12.0)));
  const std::string md = report::render_comparison(old_run, new_run);
  EXPECT_HAS(md, "**Verdict: PASS → FAIL**");
  EXPECT_HAS(md, "| 0.001 | 0.02 | pass | **FAIL** |");
  EXPECT_HAS(md, "1 slower beyond their noise margin");
  EXPECT_HAS(md, "prefill/sage_int8/B1_L512");
  EXPECT_HAS(md, "+20.0%");
}

json kernel_doc(double median_ms) {
  json shape = {{"head_dim", 128}, {"seq", 4096}, {"causal", false}, {"ratios", json::object()}};
  shape["variants"]["sage_int8_with_quant"] = {{"status", "ok"}, {"median_ms", median_ms}, {"min_ms", median_ms},
                                               {"max_ms", median_ms}, {"tops_median", 300.0}};
  shape["variants"]["sdpa_cudnn"] = {{"status", "unsupported"}, {"message", "no"}};
  json doc = {{"device", {{"name", "GPU"}}}, {"method", {{"iters", 30}, {"warmup", 5}}}};
  doc["shapes"] = json::array({shape});
  return doc;
}

TEST_F(RunDir, ComparisonReadsKernelBenchmarks) {
  const std::string old_dir = make("kold", {perplexity_record("A", 1.0, true)}, nullptr);
  const std::string new_dir = make("knew", {perplexity_record("A", 1.0, true)}, nullptr);
  std::ofstream(fs::path(old_dir) / "attention_kernel_bench.json") << kernel_doc(1.0).dump();
  std::ofstream(fs::path(new_dir) / "attention_kernel_bench.json") << kernel_doc(1.5).dump();
  const std::string md = report::render_comparison(report::load_run(old_dir), report::load_run(new_dir));
  EXPECT_HAS(md, "kernel/D128_N4096/sage_int8_with_quant");
  EXPECT_HAS(md, "+50.0%");
  EXPECT_HAS(report::render_report(report::load_run(new_dir)), "| 128 | 4096 | no |");
}

// Each quantization pass's GB/s and fraction of the copy, as the benchmark recorded them, in the order it lists the
// passes; a pass that failed shows its status, not a figure. A benchmark without the list gets no such table.
TEST_F(RunDir, KernelSpeedShowsEachQuantizationPass) {
  const std::string dir = make("kpass", {perplexity_record("A", 1.0, true)}, nullptr);
  json doc = kernel_doc(1.0);
  doc["copy_bandwidth"] = {{"status", "ok"}, {"gb_per_s_median", 4227.0}};
  for (const char* pass : {"k_mean", "k_int8", "q_int8"})
    doc["quantization_passes"].push_back({{"name", pass}, {"variant", std::string("sage_int8_quant_pass_") + pass}});
  json& v = doc["shapes"][0]["variants"];
  const std::pair<const char*, double> ok[] = {{"sage_int8_quant_pass_k_mean", 3650.0},
                                                {"sage_int8_quant_pass_q_int8", 3230.0},
                                                {"sage_int8_quant_only", 2396.0}};
  for (const auto& [name, gbps] : ok)
    v[name] = {{"status", "ok"}, {"median_ms", 0.06}, {"gb_per_s_median", gbps}, {"fraction_of_copy_median", gbps / 4227.0}};
  v["sage_int8_quant_pass_k_int8"] = {{"status", "error"}, {"message", "launch failed"}};
  std::ofstream(fs::path(dir) / "attention_kernel_bench.json") << doc.dump();
  const std::string md = report::render_report(report::load_run(dir));
  EXPECT_HAS(md, "copy in the same run (4227 GB/s)");
  EXPECT_HAS(md, "| 128 | 4096 | no | 3650 (0.86) | error | 3230 (0.76) | 2396 (0.57) |");
  EXPECT_HAS(md, "| D | N | causal | `k_mean` GB/s (of copy) | `k_int8` GB/s (of copy) |");
  doc.erase("quantization_passes");
  std::ofstream(fs::path(dir) / "attention_kernel_bench.json") << doc.dump();
  EXPECT_EQ(report::render_report(report::load_run(dir)).find("Quantization passes"), std::string::npos);
}

TEST_F(RunDir, NanFigureOfABrokenKernelCaseShowsInTheAccuracyTable) {
  const std::string dir = make("nan", {perplexity_record("A", 1.0, true)}, nullptr);
  std::ofstream f(fs::path(dir) / "attention_accuracy_gpu.jsonl");
  for (const char* rel : {"0.01", "\"nan\"", "0.02"}) {
    json r = {{"suite", "attention_accuracy_gpu"}, {"case", std::string("D128_Case") + (rel[0] == '"' ? "B" : rel) + "_Gaussian"},
              {"candidate", "sage_int8"}, {"baseline", "math"}, {"pass", rel[0] != '"'},
              {"figures", {{"rel_l1", json::parse(rel)}, {"cosine", 0.9999}, {"worst_row_cosine", 0.999}}},
              {"gates", {{{"name", "rel_l1 <= 0.02"}, {"measured", json::parse(rel)}, {"threshold", 0.02}, {"pass", rel[0] != '"'}}}}};
    f << r.dump() << "\n";
  }
  f.close();
  const auto run = report::load_run(dir);
  const std::string md = report::render_report(run);
  EXPECT_HAS(md, "| attention_accuracy_gpu | sage_int8 vs math | Gaussian | 3 | 1 | 0 | nan |");
  EXPECT_HAS(md, "1 of 3 fail");
  EXPECT_FALSE(report::run_passes(run));
}

// Cases a backend declares it does not compute are counted in their own column, with a reason, and judged by no
// gate: neither passes nor failures. A case that raised an error is a failure.
TEST_F(RunDir, UnsupportedKernelCasesAreCountedWithTheReason) {
  const std::string dir = make("unsup", {perplexity_record("A", 1.0, true)}, nullptr);
  std::ofstream f(fs::path(dir) / "attention_accuracy_cuda.jsonl");
  const json judged = {{"suite", "attention_accuracy_cuda"}, {"case", "D128_Q64_K64_Gaussian"}, {"candidate", "py:lib:f"},
                       {"baseline", "math"}, {"pass", true},
                       {"figures", {{"rel_l1", 0.01}, {"cosine", 0.9999}, {"worst_row_cosine", 0.999}}},
                       {"gates", {{{"name", "rel_l1 <= 0.02"}, {"measured", 0.01}, {"threshold", 0.02}, {"pass", true}}}}};
  const json refused = {{"suite", "attention_accuracy_cuda"}, {"case", "D128_Q1_K64_Causal_Gaussian"}, {"candidate", "py:lib:f"},
                        {"baseline", "math"}, {"figures", {{"unsupported", "top-left causal masks"}}}, {"gates", json::array()}};
  const json raised = {{"suite", "attention_accuracy_cuda"}, {"case", "D128_Q1000_K1000_Bf16_LargeV"}, {"candidate", "py:lib:f"},
                       {"baseline", "math"}, {"pass", false}, {"figures", {{"error", "the output holds NaN or Inf"}}},
                       {"gates", {{{"name", "the backend ran without an error"}, {"measured", 1}, {"threshold", 0}, {"pass", false}}}}};
  f << judged.dump() << "\n" << refused.dump() << "\n" << raised.dump() << "\n";
  f.close();
  const auto run = report::load_run(dir);
  const std::string md = report::render_report(run);
  EXPECT_HAS(md, "| attention_accuracy_cuda | py:lib:f vs math | Gaussian | 1 | 0 | 1 | 0.01 |");
  EXPECT_HAS(md, "`unsupported`: cases `py:lib:f` declares it does not compute (not judged), e.g. top-left causal masks");
  // A case that raised an error is a failure with nan figures and the message, never a missing row.
  EXPECT_HAS(md, "| attention_accuracy_cuda | py:lib:f vs math | LargeV | 1 | 1 | 0 | nan |");
  EXPECT_HAS(md, "`py:lib:f` raised an error in 1 case(s) (counted as failed, figures nan), e.g. \"the output holds NaN or Inf\"");
  EXPECT_FALSE(report::run_passes(run));
  EXPECT_HAS(md, "| attention_accuracy_cuda | py:lib:f vs math | `cases the backend declares unsupported (not judged)` | 1 of 3 |");
}

// A candidate that refuses every case has nothing judged: it fails instead of passing for want of a gate.
TEST_F(RunDir, ACandidateThatRefusesEveryCaseFails) {
  const std::string dir = make("allrefused", {perplexity_record("A", 1.0, true)}, nullptr);
  std::ofstream f(fs::path(dir) / "attention_accuracy_cuda.jsonl");
  f << json({{"suite", "attention_accuracy_cuda"}, {"case", "D128_Q1_K64_Causal_Gaussian"}, {"candidate", "py:lib:f"},
             {"baseline", "math"}, {"figures", {{"unsupported", "no"}}}, {"gates", json::array()}}).dump() << "\n";
  f.close();
  const auto run = report::load_run(dir);
  EXPECT_FALSE(report::run_passes(run));
  EXPECT_HAS(report::render_report(run), "| 1 of 1 | some case judged | 1 of 1 fail | **FAIL** |");
}

TEST_F(RunDir, ContextLengthShowsPerWindowAgreementAndTheSensitivityTrace) {
  const std::string dir = make("context", {perplexity_record("A", 1.0, true)}, nullptr);
  const json run_json = {{"what", "all layers"}, {"layer", -1}, {"tokens", 512}, {"same_top1", 0.66}, {"kld_mean", 1.05},
                         {"kld_max", 15.5}};
  json only0 = run_json, but0 = run_json;
  only0.update({{"what", "only layer 0"}, {"layer", 0}});
  but0.update({{"what", "all but layer 0"}, {"layer", 0}, {"same_top1", 0.988}, {"kld_mean", 1.4e-3}});
  const json record = {
      {"suite", "context_length"}, {"case", "L1024_CandidateVsBaseline"}, {"candidate", "sage_int8"}, {"baseline", "fp16"},
      {"device", "cpu"}, {"pass", false},
      {"figures", {{"length", 1024}, {"windows", 4}, {"n", 2048}, {"same_top1", 0.989}, {"same_top1_unc", 0.002},
                   {"window_agreement", {{"min", 0.66}, {"p10", 0.97}, {"median", 0.995}, {"max", 1.0}, {"worst_window", 38}}},
                   {"sensitivity", {{"baseline", "fp16"}, {"candidate", "sage_int8"}, {"window", 38}, {"all", run_json},
                                    {"only", {only0}}, {"all_but", {but0}}, {"guilty_layers", {0}}, {"rule", "r"}}}}},
      {"gates", {{{"name", "agreement"}, {"measured", 0.989}, {"threshold", 0.99}, {"pass", false}}}}};
  std::ofstream(fs::path(dir) / "context_length.jsonl") << record.dump() << "\n";
  const std::string md = report::render_report(report::load_run(dir));
  EXPECT_HAS(md, "0.6600 / 0.9700 / 0.9950 (38)");
  EXPECT_HAS(md, "Sensitivity of the worst window at L = 1024 (window 38)");
  EXPECT_HAS(md, "Guilty layers: [0]");
  EXPECT_HAS(md, "| all but layer 0 | 0.9880 | 1.400e-03 |");
}

TEST_F(RunDir, PrecisionPlanGivesBothVerdicts) {
  auto context = [](const std::string& candidate, bool pass, bool plan) {
    json r = {{"suite", "context_length"}, {"case", "L1024_CandidateVsBaseline"}, {"candidate", candidate}, {"baseline", "fp16"},
              {"device", "cpu"}, {"pass", pass}, {"figures", {{"length", 1024}}},
              {"gates", {{{"name", "agreement"}, {"measured", pass ? 0.995 : 0.985}, {"threshold", 0.99}, {"pass", pass}}}}};
    if (plan) r["figures"]["precision_plan"] = {{"candidate", "sage_int8"}, {"baseline", "fp16"}, {"baseline_layers", {0}}};
    return r;
  };
  const json run_info = {{"candidate", "sage_int8"}, {"baseline", "fp16"},
                         {"suites", {{{"name", "model suites (CPU sizes)"}, {"status", "failed"}, {"exit_code", 1}, {"replaced_by_plan", true}},
                                     {{"name", "model suites with the precision plan"}, {"status", "passed"}, {"exit_code", 0},
                                      {"precision_plan", true}}}},
                         {"skipped", json::array()}};
  const std::string dir = make("plan", {perplexity_record("A", 1.0, true)}, run_info);
  {
    std::ofstream f(fs::path(dir) / "context_length.jsonl");
    f << context("sage_int8", false, false).dump() << "\n" << context("sage_int8 (layer 0 on fp16)", true, true).dump() << "\n";
  }
  const auto run = report::load_run(dir);
  const auto verdicts = report::plan_verdicts(run);
  ASSERT_TRUE(verdicts.has_value());
  EXPECT_EQ(verdicts->label, "sage_int8 (layer 0 on fp16)");
  EXPECT_FALSE(verdicts->candidate_everywhere_passes);
  EXPECT_TRUE(verdicts->with_plan_passes);
  EXPECT_FALSE(report::run_passes(run)) << "every record together still holds the failing one";
  EXPECT_HAS(report::render_report(run),
             "**Verdict with the precision plan `sage_int8 (layer 0 on fp16)`: PASS**; with `sage_int8` in every layer: FAIL");
  EXPECT_FALSE(report::plan_verdicts(report::load_run(make("noplan", {perplexity_record("A", 1.0, true)}, nullptr))).has_value());
}

// The plan's speed cost (model_bench_plan.json, written by validate's "precision plan: prefill cost" step): prefill
// with the plan beside the candidate everywhere and the baseline, each ratio from the same run.
TEST_F(RunDir, PrecisionPlanCostIsTabledFromItsBenchmark) {
  const std::string dir = make("plancost", {perplexity_record("A", 1.0, true)}, nullptr);
  const json plan = {{"candidate", "sage_int8"}, {"baseline", "fp16"}, {"baseline_layers", {0}}};
  auto entry = [&](const std::string& backend, int64_t length, double tps) {
    json e = {{"backend", backend}, {"batch", 1}, {"length", length}, {"status", "ok"}, {"tokens_per_s", tps}};
    if (backend.find("layer 0") != std::string::npos) e["precision_plan"] = plan;
    return e;
  };
  const json bench = {{"precision_plan", plan},
                      {"prefill", {entry("sage_int8", 8192, 2.0e6), entry("fp16", 8192, 1.5e6),
                                   entry("sage_int8 (layer 0 on fp16)", 8192, 1.8e6)}}};
  std::ofstream(fs::path(dir) / "model_bench_plan.json") << bench.dump();
  const std::string md = report::render_report(report::load_run(dir));
  EXPECT_HAS(md, "## Precision plan: speed cost");
  EXPECT_HAS(md, "| 1 | 8192 | 2000000 | 1800000 | 1500000 | 0.900 | 1.200 |");
  EXPECT_EQ(report::render_report(report::load_run(make("noplancost", {perplexity_record("A", 1.0, true)}, nullptr)))
                .find("speed cost"), std::string::npos);
}

TEST_F(RunDir, ThroughputTableShowsRatiosFromTheSameRun) {
  json doc = bench_doc(10.0);
  json fp16 = doc["prefill"][0];
  fp16["backend"] = "fp16";
  fp16["key"] = "prefill/fp16/B1_L512";
  fp16["tokens_per_s"] = 512 / 12.5 * 1e3;
  doc["prefill"].push_back(fp16);
  const auto run = report::load_run(make("tput", {perplexity_record("A", 1.0, true)}, nullptr, doc));
  const std::string md = report::render_report(run);
  EXPECT_HAS(md, "sage_int8 / fp16");
  EXPECT_HAS(md, "| 1.250 |");
}

}  // namespace
}  // namespace sageval::testing
