// `sageval generate | logits | prefill-speed | nll`: the model runner from the command line.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "sageval/app/options.h"
#include "sageval/data/datasets.h"
#include "sageval/eval/perplexity.h"
#include "sageval/model/generation.h"
#include "sageval/model/llama_model.h"
#include "sageval/model/tokenizer.h"

namespace sageval::cli {
namespace {

// The options every model command takes.
struct ModelOptions {
  std::string model, backend = "fp16", device = "cpu", dtype;
};

void add_model_options(CLI::App& sub, ModelOptions& o) {
  sub.add_option("--model", o.model, "Hugging Face checkpoint folder (config.json, safetensors)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app::add_backend_option(sub, o.backend, "attention backend of every layer");
  sub.add_option("--device", o.device, "cpu, cuda or cuda:N")->capture_default_str();
  sub.add_option("--dtype", o.dtype, "weights and activations (default: float32 on the CPU, float16 on CUDA)")
      ->check(CLI::IsMember(app::dtype_names()));
}

std::unique_ptr<model::LlamaModel> load_model(const ModelOptions& o) {
  model::LoadOptions opt;
  opt.device = at::Device(o.device);
  if (!o.dtype.empty()) opt.dtype = app::parse_dtype(o.dtype);
  auto m = model::LlamaModel::load(o.model, opt);
  m->set_attention({o.backend, {}});
  return m;
}

struct GenerateOptions : ModelOptions {
  std::string prompt;
  int64_t max_new_tokens = 64;
  double temperature = 0.0;
  uint64_t seed = 0;
};

int run_generate(const GenerateOptions& o) {
  auto m = load_model(o);
  auto tokenizer = model::make_tokenizer(m->config(), m->folder());
  model::SamplingOptions s;
  s.max_new_tokens = o.max_new_tokens;
  s.temperature = o.temperature;
  s.seed = o.seed;
  s.eos = tokenizer->eos();
  const auto result = model::generate(*m, {tokenizer->encode(o.prompt, true)}, s)[0];
  fmt::print("{}\n", tokenizer->decode(result.tokens));
  fmt::print(stderr, "[{} tokens, {}, attention backend {}]\n", result.tokens.size(),
             result.stopped_at_eos ? "stopped at EOS" : "length limit", m->attention().backend);
  return 0;
}

struct LogitsOptions : ModelOptions {
  std::string tokens_file, prompt, out;
};

int run_logits(const LogitsOptions& o) {
  auto m = load_model(o);
  std::vector<int64_t> ids;
  if (!o.tokens_file.empty()) {
    ids = model::read_token_ids(o.tokens_file);
  } else {
    ids = model::make_tokenizer(m->config(), m->folder())->encode(o.prompt, true);
  }
  at::Tensor tokens = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).view({1, -1});
  at::Tensor logits = m->forward(tokens)[0].contiguous().to(at::kCPU);
  const std::string& out = o.out;
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

struct PrefillOptions : ModelOptions {
  int64_t batch = 1, tokens = 512, iters = 10;
};

// Prefill throughput of a model: median wall time of `--iters` forward passes over random tokens after a
// warm-up, each ended by reading a value of the logits back (which waits for the device).
int run_prefill_speed(const PrefillOptions& o) {
  auto m = load_model(o);
  const int64_t b = o.batch, t = o.tokens, iters = o.iters;
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

struct NllOptions : ModelOptions {
  std::string data, tokens_file, json;
  int64_t context = 1024, stride = 0, max_bytes = -1, batch = 1;
};

// Bits per byte of a byte-level model on a text file, by disjoint or sliding windows (sageval/eval/perplexity.h).
int run_nll(const NllOptions& o) {
  auto m = load_model(o);
  // Raw text (through the model's tokenizer, BOS first) or a file of token ids, used exactly as given.
  std::vector<int64_t> tokens;
  std::string path, text;
  if (!o.tokens_file.empty()) {
    path = o.tokens_file;
    tokens = model::read_token_ids(path);
  } else {
    path = data::resolve_user_data(o.data);
    text = data::read_text_file(path);
    if (o.max_bytes >= 0 && static_cast<int64_t>(text.size()) > o.max_bytes) text.resize(static_cast<size_t>(o.max_bytes));
    tokens = model::make_tokenizer(m->config(), m->folder())->encode(text, true);
  }
  const int64_t context = o.context;
  const eval::WindowProtocol protocol{context, o.stride};
  const auto start = std::chrono::steady_clock::now();
  const eval::NllResult r = eval::score_windows(*m, tokens, protocol, o.batch);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json j = {{"model", m->folder()},          {"data", path},
                      {"bytes", text.size()},          {"tokens", tokens.size()}, {"context", context},
                      {"protocol", protocol.describe()},
                      {"attention_backend", m->attention().backend},
                      {"dtype", c10::toString(m->dtype())}, {"device", m->device().str()},
                      {"tokens_scored", r.tokens_scored},   {"nats_per_token", r.nats_per_token()},
                      {"bits_per_token", r.bits_per_token()}, {"seconds", secs}};
  fmt::print("{}\n", j.dump());
  if (!o.json.empty()) {
    std::ofstream f(o.json);
    f << j.dump(2) << "\n";
    if (!f) throw std::runtime_error(fmt::format("cannot write '{}'", o.json));
  }
  return 0;
}

}  // namespace

void add_model_commands(CLI::App& app, Run& run) {
  {
    auto o = std::make_shared<GenerateOptions>();
    CLI::App* sub = app.add_subcommand("generate", "greedy or sampled continuation of a prompt");
    add_model_options(*sub, *o);
    sub->add_option("--prompt", o->prompt)->required();
    sub->add_option("--max-new-tokens", o->max_new_tokens)->check(CLI::PositiveNumber)->capture_default_str();
    sub->add_option("--temperature", o->temperature, "0: greedy")->check(CLI::NonNegativeNumber)->capture_default_str();
    sub->add_option("--seed", o->seed)->capture_default_str();
    sub->callback([o, &run] { run = [o] { return run_generate(*o); }; });
  }
  {
    auto o = std::make_shared<LogitsOptions>();
    CLI::App* sub = app.add_subcommand("logits", "float32 logits [T, vocab] as raw little-endian bytes, shape in FILE.json");
    add_model_options(*sub, *o);
    auto* tokens = sub->add_option("--tokens-file", o->tokens_file, "token ids, whitespace-separated")->check(CLI::ExistingFile);
    auto* prompt = sub->add_option("--prompt", o->prompt, "text, through the model's tokenizer");
    tokens->excludes(prompt);
    sub->add_option("--out", o->out)->required();
    sub->callback([o, &run, tokens, prompt] {
      if (tokens->count() + prompt->count() == 0) throw CLI::RequiredError("--tokens-file or --prompt");
      run = [o] { return run_logits(*o); };
    });
  }
  {
    auto o = std::make_shared<PrefillOptions>();
    CLI::App* sub = app.add_subcommand("prefill-speed", "median prefill time and tokens/s");
    add_model_options(*sub, *o);
    sub->add_option("--batch", o->batch)->check(CLI::PositiveNumber)->capture_default_str();
    sub->add_option("--tokens", o->tokens)->check(CLI::PositiveNumber)->capture_default_str();
    sub->add_option("--iters", o->iters)->check(CLI::PositiveNumber)->capture_default_str();
    sub->callback([o, &run] { run = [o] { return run_prefill_speed(*o); }; });
  }
  {
    auto o = std::make_shared<NllOptions>();
    CLI::App* sub = app.add_subcommand("nll", "NLL per token (per byte for byte-level models), disjoint or sliding windows");
    add_model_options(*sub, *o);
    auto* data = sub->add_option("--data", o->data, "a text file, or a registered data set name");
    auto* tokens = sub->add_option("--tokens-file", o->tokens_file, "token ids, used as given")->check(CLI::ExistingFile);
    data->excludes(tokens);
    sub->add_option("--context", o->context)->check(CLI::PositiveNumber)->capture_default_str();
    sub->add_option("--stride", o->stride, "0: disjoint windows")->check(CLI::NonNegativeNumber)->capture_default_str();
    sub->add_option("--max-bytes", o->max_bytes, "read at most this much text");
    sub->add_option("--batch", o->batch, "windows per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
    sub->add_option("--json", o->json, "also write the result there");
    sub->callback([o, &run, data, tokens] {
      if (data->count() + tokens->count() == 0) throw CLI::RequiredError("--data or --tokens-file");
      run = [o] { return run_nll(*o); };
    });
  }
}

}  // namespace sageval::cli
