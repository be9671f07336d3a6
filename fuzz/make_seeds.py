#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from the project's own files: the default model's config.json (and its
Mistral/Qwen2/RoPE-scaling variants, the forms the loader accepts), data/thresholds.json, small safetensors files
laid out like the default model's shards, token-id files and report records. libFuzzer mutates them from there.
Usage: make_seeds.py OUT_DIR  (writes OUT_DIR/<target>/seed_*)"""
import json
import os
import struct
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = sys.argv[1]


def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, "seed_" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# config.json: the default model's and variants the loader implements.
config = json.load(open(os.path.join(root, "data/models/sageval-byte-llama/config.json")))
put("config", "default", json.dumps(config, indent=2))
variants = {
    "mistral_sliding": {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "sliding_window": 64},
    "qwen2": {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "use_sliding_window": True,
              "sliding_window": 32, "max_window_layers": 1},
    "llama3_rope": {"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 512}},
    "yarn_rope": {"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 256}},
    "gqa_head_dim": {"num_key_value_heads": 1, "head_dim": 32, "attention_bias": True, "tie_word_embeddings": True},
}
for name, patch in variants.items():
    put("config", name, json.dumps({**config, **patch}))

put("thresholds", "project", open(os.path.join(root, "data/thresholds.json")).read())

# safetensors: 8-byte little-endian header length, JSON header, data area.
def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "U8": 1, "BOOL": 1}
    for name, dtype, shape in tensors:
        n = sizes[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + n]}
        blob += bytes((i * 7) % 251 for i in range(n))
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the data area on 8 bytes, as writers pad it
    return struct.pack("<Q", len(text)) + text + blob

put("safetensors_header", "layer", safetensors([
    ("model.embed_tokens.weight", "F32", [4, 2]), ("model.layers.0.self_attn.q_proj.weight", "F16", [2, 2]),
    ("model.layers.0.input_layernorm.weight", "BF16", [2]), ("model.norm.weight", "F32", [2])], {"format": "pt"}))
put("safetensors_header", "dtypes", safetensors([("i", "I64", [1]), ("u", "U8", [3]), ("b", "BOOL", [2, 1]),
                                                   ("e", "F32", [0])]))
put("safetensors_header", "empty", safetensors([]))

put("token_ids", "prompt", "256 72 101 108 108 111 44 32 119 111 114 108 100\n")
put("token_ids", "lines", "1\n2 3\t4\n\n5\n")

record = {"suite": "perplexity", "case": "Suite/Perplexity.Matches/wikitext2", "candidate": "sage_int8",
          "baseline": "fp16", "device": "cpu",
          "figures": {"dataset": "wikitext2-test", "context": 1024, "sliding": False, "ppl_ratio": 1.003,
                      "ppl_ratio_unc": 0.001, "protocol": "disjoint windows of 1024 tokens"},
          "gates": [{"name": "|ppl_cand / ppl_base - 1| <= 0.01", "measured": 0.003, "threshold": 0.01, "pass": True,
                     "direction": "<="}],
          "pass": True}
run = {"commit": "abc1234", "date": "2026-11-29T00:00Z", "candidate": "sage_int8", "baseline": "fp16",
       "suites": [{"name": "model suites (GPU sizes)", "status": "passed", "exit_code": 0, "seconds": 64.0,
                   "log": "logs/model_suites.log", "gpu": {"ordinal": 0, "name": "NVIDIA H200", "uuid": "GPU-x"}}],
       "gpus": [{"ordinal": 0, "name": "NVIDIA H200", "uuid": "GPU-x"}]}
put("records", "one", json.dumps(record) + "\n")
put("records", "with_run", "RUN:" + json.dumps(run) + "\n" + json.dumps(record) + "\n" +
    json.dumps({**record, "case": "other", "pass": False}) + "\n")
put("records", "incomplete", "RUN:" + json.dumps({**run, "incomplete": ["step 'x' was ended by signal 9"]}) + "\n" +
    json.dumps(record) + "\n")
