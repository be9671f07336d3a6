// `sageval generate` and `sageval logits`: the model runner from the command line.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "sageval/data/datasets.h"
#include "sageval/eval/perplexity.h"
#include "sageval/model/generation.h"
#include "sageval/model/llama_model.h"
#include "sageval/model/tokenizer.h"

namespace sageval::cli {
namespace {

const std::vector<std::string> kModelOptions = {"model", "attention-backend", "device", "dtype"};

std::unique_ptr<model::LlamaModel> load_model(const Args& args, int argc, const char* const* argv) {
  model::LoadOptions opt;
  opt.device = at::Device(args.get("device", "cpu"));
  if (args.flag("dtype")) opt.dtype = parse_dtype(args.get("dtype", ""));
  auto m = model::LlamaModel::load(args.required("model"), opt);
  m->set_attention({select_backend_name(argc, argv, "fp16"), {}});
  return m;
}

std::vector<std::string> with(std::vector<std::string> base, std::initializer_list<std::string> more) {
  base.insert(base.end(), more);
  return base;
}

}  // namespace

int cmd_generate(int argc, const char* const* argv) {
  Args args = parse_args(argc, argv, 2, with(kModelOptions, {"prompt", "max-new-tokens", "temperature", "seed"}), {});
  auto m = load_model(args, argc, argv);
  auto tokenizer = model::make_tokenizer(m->config(), m->folder());
  model::SamplingOptions s;
  s.max_new_tokens = args.integer("max-new-tokens", 64);
  s.temperature = args.real("temperature", 0.0);
  s.seed = static_cast<uint64_t>(args.integer("seed", 0));
  s.eos = tokenizer->eos();
  const auto result = model::generate(*m, {tokenizer->encode(args.required("prompt"), true)}, s)[0];
  fmt::print("{}\n", tokenizer->decode(result.tokens));
  fmt::print(stderr, "[{} tokens, {}, attention backend {}]\n", result.tokens.size(),
             result.stopped_at_eos ? "stopped at EOS" : "length limit", m->attention().backend);
  return 0;
}

int cmd_logits(int argc, const char* const* argv) {
  Args args = parse_args(argc, argv, 2, with(kModelOptions, {"tokens-file", "prompt", "out"}), {});
  auto m = load_model(args, argc, argv);
  std::vector<int64_t> ids;
  if (args.flag("tokens-file")) {
    ids = model::read_token_ids(args.get("tokens-file", ""));
  } else {
    ids = model::make_tokenizer(m->config(), m->folder())->encode(args.required("prompt"), true);
  }
  at::Tensor tokens = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).view({1, -1});
  at::Tensor logits = m->forward(tokens)[0].contiguous().to(at::kCPU);
  const std::string out = args.required("out");
  std::ofstream f(out, std::ios::binary);
  f.write(reinterpret_cast<const char*>(logits.data_ptr<float>()), static_cast<std::streamsize>(logits.numel() * 4));
  if (!f) throw std::runtime_error(fmt::format("cannot write '{}'", out));
  nlohmann::json meta = {{"shape", {logits.size(0), logits.size(1)}}, {"dtype", "float32"},
                         {"attention_backend", m->attention().backend}, {"model_dtype", c10::toString(m->dtype())},
                         {"device", m->device().str()}};
  std::ofstream(out + ".json") << meta.dump(2) << "\n";
  fmt::print("wrote {} ({} x {} float32)\n", out, logits.size(0), logits.size(1));
  return 0;
}

}  // namespace sageval::cli

namespace sageval::cli {

// Prefill throughput of a model: median wall time of `--iters` forward passes over random tokens after a
// warm-up, each ended by reading a value of the logits back (which waits for the device).
int cmd_prefill_speed(int argc, const char* const* argv) {
  Args args = parse_args(argc, argv, 2, with(kModelOptions, {"batch", "tokens", "iters"}), {});
  auto m = load_model(args, argc, argv);
  const int64_t b = args.integer("batch", 1), t = args.integer("tokens", 512), iters = args.integer("iters", 10);
  if (b <= 0 || t <= 0 || iters <= 0) throw std::invalid_argument("--batch, --tokens and --iters must be positive");
  at::Generator gen = at::detail::createCPUGenerator(1);
  at::Tensor tokens = at::randint(0, std::min<int64_t>(m->config().vocab_size, 256), {b, t}, gen,
                                  at::TensorOptions().dtype(at::kLong));
  auto run = [&] { return m->forward(tokens).select(1, t - 1).sum().item<float>(); };
  run();  // warm-up: allocations, kernel loading
  std::vector<double> seconds;
  for (int64_t i = 0; i < iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  fmt::print("model {} ({} layers, hidden {}), {} on {}, attention {}: batch {} x {} tokens: median {:.3f} ms "
             "(min {:.3f}, max {:.3f}), {:.0f} tokens/s\n",
             m->folder(), m->config().num_layers, m->config().hidden_size, c10::toString(m->dtype()), m->device().str(),
             m->attention().backend, b, t, median * 1e3, seconds.front() * 1e3, seconds.back() * 1e3,
             static_cast<double>(b * t) / median);
  return 0;
}

}  // namespace sageval::cli

namespace sageval::cli {

// Bits per byte of a byte-level model on a text file, by disjoint windows (sageval/eval/perplexity.h).
int cmd_nll(int argc, const char* const* argv) {
  Args args = parse_args(argc, argv, 2,
                         with(kModelOptions, {"data", "tokens-file", "context", "stride", "max-bytes", "batch", "json"}), {});
  auto m = load_model(args, argc, argv);
  // Raw text (through the model's tokenizer, BOS first) or a file of token ids, used exactly as given.
  std::vector<int64_t> tokens;
  std::string path, text;
  if (args.flag("tokens-file")) {
    path = args.get("tokens-file", "");
    tokens = model::read_token_ids(path);
  } else {
    path = data::resolve_user_data(args.required("data"));
    text = data::read_text_file(path);
    const int64_t max_bytes = args.integer("max-bytes", -1);
    if (max_bytes >= 0 && static_cast<int64_t>(text.size()) > max_bytes) text.resize(static_cast<size_t>(max_bytes));
    tokens = model::make_tokenizer(m->config(), m->folder())->encode(text, true);
  }
  const int64_t context = args.integer("context", 1024);
  const eval::WindowProtocol protocol{context, args.integer("stride", 0)};
  const auto start = std::chrono::steady_clock::now();
  const eval::NllResult r = eval::score_windows(*m, tokens, protocol, args.integer("batch", 1));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json j = {{"model", m->folder()},          {"data", path},
                      {"bytes", text.size()},          {"tokens", tokens.size()}, {"context", context},
                      {"protocol", protocol.describe()},
                      {"attention_backend", m->attention().backend},
                      {"dtype", c10::toString(m->dtype())}, {"device", m->device().str()},
                      {"tokens_scored", r.tokens_scored},   {"nats_per_token", r.nats_per_token()},
                      {"bits_per_token", r.bits_per_token()}, {"seconds", secs}};
  fmt::print("{}\n", j.dump());
  if (args.flag("json")) std::ofstream(args.get("json", "")) << j.dump(2) << "\n";
  return 0;
}

}  // namespace sageval::cli
