#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "report/json_errors.h"
#include "report/markdown.h"
#include "sageval/report/report.h"

namespace sageval::report {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json_file(const fs::path& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(fmt::format("cannot read '{}'", path.string()));
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("'{}' is not valid JSON: {}", path.string(), e.what()));
  }
}

// What is wrong with a record line's JSON for the report, which reads these fields with these types (record.h
// writes them); "" when nothing is.
std::string record_problem(const json& r) {
  if (!r.is_object()) return fmt::format("is not a JSON object but {}", r.type_name());
  for (const char* key : {"suite", "case"})
    if (!r.contains(key) || !r[key].is_string()) return fmt::format("has no string \"{}\"", key);
  if (!r.contains("figures") || !r.at("figures").is_object()) return "has no object \"figures\"";
  if (!r.contains("gates") || !r.at("gates").is_array()) return "has no array \"gates\"";
  for (const char* key : {"candidate", "baseline", "device"})
    if (r.contains(key) && !r[key].is_string()) return fmt::format("has a \"{}\" that is not a string", key);
  if (r.contains("pass") && !r.at("pass").is_boolean()) return "has a \"pass\" that is not true or false";
  for (size_t i = 0; i < r.at("gates").size(); ++i) {
    const json& g = r.at("gates")[i];
    auto bad = [&](const std::string& what) { return fmt::format("gate {} {}", i, what); };
    if (!g.is_object()) return bad("is not a JSON object");
    if (!g.contains("name") || !g.at("name").is_string()) return bad("has no string \"name\"");
    if (!g.contains("pass") || !g.at("pass").is_boolean()) return bad("has no \"pass\" of true or false");
    if (g.contains("direction") && g.at("direction") != "<=" && g.at("direction") != ">=")
      return bad("has a \"direction\" other than \"<=\" or \">=\"");
    for (const char* key : {"measured", "threshold"})  // a number, or "nan"/"inf" (record.h json_number)
      if (!g.contains(key) || (!g[key].is_number() && !g[key].is_string() && !g[key].is_null()))
        return bad(fmt::format("has no \"{}\" that is a number or a string", key));
  }
  return "";
}

std::vector<json> read_records(const fs::path& path, std::vector<std::string>& unreadable) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(fmt::format("cannot read '{}'", path.string()));
  std::vector<json> out;
  std::map<std::string, size_t> index;  // case -> position: a rerun replaces the earlier record
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    json r;
    try {
      r = json::parse(line);
    } catch (const json::exception& e) {
      unreadable.push_back(fmt::format("{}:{}: not a JSON record ({})", path.filename().string(), n, e.what()));
      continue;
    }
    if (const std::string problem = record_problem(r); !problem.empty()) {
      unreadable.push_back(fmt::format("{}:{}: record {}", path.filename().string(), n, problem));
      continue;
    }
    const std::string key = r.at("case").get<std::string>() + "|" + r.value("candidate", "") + "|" + r.value("baseline", "");
    if (auto it = index.find(key); it != index.end()) {
      out[it->second] = r;
    } else {
      index[key] = out.size();
      out.push_back(r);
    }
  }
  return out;
}

bool is_accuracy_suite(const std::string& suite) { return suite.rfind("attention_", 0) == 0; }

// "<=" gates: larger measured values are worse; ">=" gates: smaller ones. The record says which
// ("direction", written by Gate); records written before it existed carry the direction in the gate's name.
bool larger_is_worse(const json& gate) {
  if (gate.contains("direction")) return gate.at("direction").get<std::string>() != ">=";
  return gate.at("name").get<std::string>().find(">=") == std::string::npos;
}

// Older records carry a case-dependent bound in the gate's name ("... <= 0.0032"); grouped, they are one gate.
std::string gate_family(const std::string& gate) {
  const size_t at = gate.rfind(" <= ");
  if (at == std::string::npos) return gate;
  const std::string tail = gate.substr(at + 4);
  char* end = nullptr;
  std::strtod(tail.c_str(), &end);
  return end != nullptr && *end == '\0' && !tail.empty() ? gate.substr(0, at) : gate;
}

// The gate as the report shows it: its name and, where the record has it, its direction ("rel_l1 <=").
std::string gate_label(const json& gate) {
  const std::string name = gate.at("name").get<std::string>();
  return gate.contains("direction") ? name + " " + gate.at("direction").get<std::string>() : name;
}

}  // namespace

RunData load_run(const std::string& dir) {
  if (!fs::is_directory(dir)) throw std::runtime_error(fmt::format("report directory '{}' does not exist", dir));
  RunData run;
  run.dir = dir;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& p : files) {
    if (p.extension() == ".jsonl") {
      std::vector<json> recs = read_records(p, run.unreadable);
      if (!recs.empty()) run.records[recs.front().at("suite").get<std::string>()] = std::move(recs);
    }
  }
  const fs::path base(dir);
  // The main job's benchmark files, else those of ctest's --quick entries (bench/CMakeLists.txt).
  auto first_of = [&](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (fs::exists(base / n)) return read_json_file(base / n);
    return json();
  };
  run.kernel_bench = first_of({"attention_kernel_bench.json", "sageval_attention_bench_quick.json"});
  run.model_bench = first_of({"model_bench.json", "sageval_model_bench_quick.json"});
  run.plan_bench = first_of({"model_bench_plan.json"});
  if (fs::exists(base / "run.json")) run.run_info = read_json_file(base / "run.json");
  // An unfinished run drew no figures: those in the folder are the last finished run's, not this one's.
  if (incomplete_reasons(run).empty()) run.figures = figure_files(dir);
  return run;
}

std::vector<std::string> figure_files(const std::string& dir) {
  std::vector<std::string> figures;
  const fs::path folder = fs::path(dir) / "figures";
  if (fs::is_directory(folder))
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.path().extension() == ".png") figures.push_back("figures/" + entry.path().filename().string());
  std::sort(figures.begin(), figures.end());
  return figures;
}

namespace {
std::vector<VerdictRow> verdict_rows_unchecked(const RunData& run) {
  std::vector<VerdictRow> rows;
  for (const auto& [suite, records] : run.records) {
    if (is_accuracy_suite(suite)) {
      // Hundreds of cases: one row per (candidate, gate), with the worst measured value.
      // A per-case bound is summarized as the worst measured / threshold.
      struct Group {
        VerdictRow row;
        double worst = NAN, worst_ratio = NAN, min_threshold = INFINITY, max_threshold = -INFINITY;
      };
      std::map<std::pair<std::string, std::string>, Group> grouped;
      for (const json& r : records)
        for (const json& g : r.at("gates")) {
          const std::string family = gate_family(gate_label(g));
          auto key = std::make_pair(r.value("candidate", "?") + " vs " + r.value("baseline", "?"), family);
          Group& grp = grouped[key];
          grp.row.suite = suite;
          grp.row.subject = key.first;
          grp.row.gate = family;
          ++grp.row.cases;
          const bool pass = g.at("pass").get<bool>();
          if (!pass) ++grp.row.failed;
          grp.row.pass = grp.row.pass && pass;
          const double m = g.at("measured").is_number() ? g.at("measured").get<double>() : NAN;
          const double t = g.at("threshold").is_number() ? g.at("threshold").get<double>() : NAN;
          grp.min_threshold = std::min(grp.min_threshold, t);
          grp.max_threshold = std::max(grp.max_threshold, t);
          const bool larger_worse = larger_is_worse(g);
          auto worse = [&](double a, double b) { return std::isnan(b) || (larger_worse ? a > b : a < b); };
          if (grp.row.cases == 1 || std::isnan(m) || (!std::isnan(grp.worst) && worse(m, grp.worst))) grp.worst = m;
          const double ratio = t != 0 ? m / t : NAN;
          // Worst = largest measured/bound for "<=" gates, smallest for ">=" gates; NaN sticks.
          if (grp.row.cases == 1 || std::isnan(ratio) ||
              (!std::isnan(grp.worst_ratio) && (larger_worse ? ratio > grp.worst_ratio : ratio < grp.worst_ratio)))
            grp.worst_ratio = ratio;
        }
      for (auto& [key, grp] : grouped) {
        if (grp.min_threshold == grp.max_threshold) {
          grp.row.measured = fmt::format("worst {:.6g}", grp.worst);
          grp.row.threshold = fmt::format("{:.6g}", grp.min_threshold);
        } else {
          grp.row.measured = fmt::format("worst measured/bound {:.3g}", grp.worst_ratio);
          grp.row.threshold = "per case";
        }
        rows.push_back(grp.row);
      }
      // Cases a backend declared it does not compute: shown in the verdicts, and a backend with no case judged
      // at all fails (a candidate that refuses everything must not pass by having no gate).
      std::map<std::string, std::pair<int, int>> declared;  // subject -> (unsupported, judged)
      for (const json& r : records) {
        auto& [unsupported, judged] = declared[r.value("candidate", "?") + " vs " + r.value("baseline", "?")];
        if (r.at("figures").contains("unsupported")) ++unsupported;
        else ++judged;
      }
      for (const auto& [subject, counts] : declared) {
        const auto [unsupported, judged] = counts;
        if (unsupported == 0) continue;
        VerdictRow row;
        row.suite = suite;
        row.subject = subject;
        row.gate = "cases the backend declares unsupported (not judged)";
        row.measured = fmt::format("{} of {}", unsupported, unsupported + judged);
        row.threshold = "some case judged";
        row.cases = unsupported + judged;
        row.pass = judged > 0;
        row.failed = row.pass ? 0 : unsupported;
        rows.push_back(row);
      }
    } else {
      for (const json& r : records)
        for (const json& g : r.at("gates")) {
          VerdictRow row;
          row.suite = suite;
          row.subject = r.at("case").get<std::string>() + " (" + r.value("candidate", "?") + " vs " + r.value("baseline", "?") + ")";
          row.gate = gate_label(g);
          row.measured = num(g.at("measured"), "{:.6g}");
          row.threshold = num(g.at("threshold"), "{:.6g}");
          row.cases = 1;
          row.pass = g.at("pass").get<bool>();
          row.failed = row.pass ? 0 : 1;
          rows.push_back(row);
        }
    }
  }
  // One failing row for something that makes the run's evidence incomplete or broken.
  auto failing = [&rows](std::string suite, std::string subject, std::string gate, std::string measured, std::string threshold) {
    VerdictRow row;
    row.suite = std::move(suite);
    row.subject = std::move(subject);
    row.gate = std::move(gate);
    row.measured = std::move(measured);
    row.threshold = std::move(threshold);
    row.cases = 1;
    row.failed = 1;
    row.pass = false;
    rows.push_back(row);
  };
  // Records that could not be read: what they held is unknown, so the run cannot pass.
  for (const std::string& what : run.unreadable)
    failing("records", what.substr(0, what.find(':', what.find(':') + 1)), "record readable", "no", "yes");
  // A run that did not finish: what it would have recorded is unknown.
  for (const std::string& why : incomplete_reasons(run)) failing("run", why, "run finished", "no", "yes");
  // A suite executable that failed without a failing gate (an exception, a failed EXPECT) fails the run too.
  if (run.run_info.is_object())
    for (const json& s : run.run_info.value("suites", json::array()))
      if (const std::string status = s.value("status", ""); status == "failed" || status == "skipped" || status == "killed" ||
                                                            status == "crashed")
        failing(s.value("name", "?"), "suite run", status == "skipped" ? "ran at least one case" : "exit status == 0",
                fmt::format("{}", s.value("exit_code", -1)), "0");
  return rows;
}

}  // namespace

std::vector<VerdictRow> verdict_rows(const RunData& run) {
  return with_named_json_errors(run.dir, [&] { return verdict_rows_unchecked(run); });
}

std::vector<std::string> incomplete_reasons(const RunData& run) {
  std::vector<std::string> reasons;
  if (!run.run_info.is_object() || !run.run_info.contains("incomplete")) return reasons;
  const json& why = run.run_info.at("incomplete");
  if (why.is_array()) {
    for (const json& w : why) reasons.push_back(w.is_string() ? w.get<std::string>() : w.dump());
  } else {
    reasons.push_back(why.is_string() ? why.get<std::string>() : why.dump());
  }
  if (reasons.empty()) reasons.push_back("run.json marks the run incomplete without a reason");
  return reasons;
}

std::string default_report_path(const RunData& run) {
  return (fs::path(run.dir) / (incomplete_reasons(run).empty() ? "REPORT.md" : "REPORT.incomplete.md")).string();
}

bool run_passes(const RunData& run) {
  const auto rows = verdict_rows(run);
  return !rows.empty() && std::all_of(rows.begin(), rows.end(), [](const VerdictRow& r) { return r.pass; });
}

namespace {
std::optional<PlanVerdicts> plan_verdicts_unchecked(const RunData& run) {
  auto has_plan = [](const json& r) { return r.contains("figures") && r.at("figures").contains("precision_plan"); };
  std::optional<PlanVerdicts> out;
  std::string plain;  // the candidate the plan is for
  for (const auto& [suite, records] : run.records)
    for (const json& r : records)
      if (!out && has_plan(r)) {
        out = PlanVerdicts{r.value("candidate", "?"), false, false};
        plain = r.at("figures").at("precision_plan").value("candidate", "");
      }
  if (!out) return out;
  RunData everywhere = run, with_plan = run;
  for (const auto& [suite, records] : run.records) {
    const bool planned = std::any_of(records.begin(), records.end(), has_plan);
    auto& e = everywhere.records[suite];
    e.clear();
    for (const json& r : records)
      if (!has_plan(r)) e.push_back(r);
    if (!planned) continue;
    auto& w = with_plan.records[suite];
    w.clear();
    for (const json& r : records)
      if (has_plan(r) || r.value("candidate", "") != plain) w.push_back(r);
  }
  auto drop_steps = [](RunData& d, const char* tag) {
    if (!d.run_info.is_object() || !d.run_info.contains("suites")) return;
    json kept = json::array();
    for (const json& s : d.run_info.at("suites"))
      if (!s.value(tag, false)) kept.push_back(s);
    d.run_info["suites"] = kept;
  };
  drop_steps(everywhere, "precision_plan");
  drop_steps(with_plan, "replaced_by_plan");
  out->candidate_everywhere_passes = run_passes(everywhere);
  out->with_plan_passes = run_passes(with_plan);
  return out;
}
}  // namespace

std::optional<PlanVerdicts> plan_verdicts(const RunData& run) {
  return with_named_json_errors(run.dir, [&] { return plan_verdicts_unchecked(run); });
}

}  // namespace sageval::report
