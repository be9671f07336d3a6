#!/usr/bin/env python3
"""Cross-checks sageval's model runner against Hugging Face transformers on tiny random models.

For each variant (every config field sageval implements: the three architectures, llama3/linear/yarn RoPE,
tied embeddings, Llama's attention and MLP biases, Qwen2's q/k/v biases and explicit head_dim, the activations,
Mistral's and Qwen2's sliding windows), builds a random model with a fixed seed (no download), saves it in
Hugging Face format, computes transformers' float32 logits on fixed tokens, and compares with `sageval logits`:
  - math backend, float32, CPU: the gate is max|ours - theirs| / (max logit - min logit) <= 1e-4;
  - with --gpu, fp16 weights on CUDA with the fp16 and sage_int8 backends: differences reported.
Variants sageval must refuse (a sliding window shorter than the tokens) pass when `sageval logits` fails naming
the field. Usage: scripts/crosscheck_transformers.py --sageval build/src/sageval [--gpu] [--out FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import transformers

TRANSFORMERS_5 = int(transformers.__version__.split(".")[0]) >= 5


def rope(params):
    """RoPE settings as this transformers version spells them (5.x: rope_parameters with rope_theta inside)."""
    if TRANSFORMERS_5:
        return {"rope_parameters": params}
    params = dict(params)
    theta = params.pop("rope_theta", 10000.0)
    return {"rope_theta": theta, "rope_scaling": params if params.get("rope_type", "default") != "default" else None}


SMALL = dict(vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=2, max_position_embeddings=4096)

ARCHITECTURES = {
    "llama": lambda: transformers.LlamaConfig(
        vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=64, max_position_embeddings=4096, rope_theta=500000.0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 256},
        tie_word_embeddings=True, rms_norm_eps=1e-5),
    "mistral": lambda: transformers.MistralConfig(
        vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=1, head_dim=64, max_position_embeddings=4096, sliding_window=None, rms_norm_eps=1e-5),
    "qwen2": lambda: transformers.Qwen2Config(
        vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=4096, use_sliding_window=False, rms_norm_eps=1e-6,
        tie_word_embeddings=False),
    "llama_biases_gelu": lambda: transformers.LlamaConfig(
        **SMALL, num_attention_heads=4, num_key_value_heads=2, attention_bias=True, mlp_bias=True, hidden_act="gelu",
        rms_norm_eps=1e-5, **rope({"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0})),
    # head_dim 64 with 2 heads: q_proj is narrower than the hidden size.
    "mistral_head_dim_tanh_gelu_window": lambda: transformers.MistralConfig(
        **SMALL, num_attention_heads=2, num_key_value_heads=1, head_dim=64, sliding_window=512,
        hidden_act="gelu_pytorch_tanh", rms_norm_eps=1e-5),
    "qwen2_yarn_window": lambda: transformers.Qwen2Config(
        **SMALL, num_attention_heads=2, num_key_value_heads=1, use_sliding_window=True,
        sliding_window=512, max_window_layers=1, rms_norm_eps=1e-6,
        **rope({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "rope_theta": 1e6})),
    "mistral_window_shorter_than_tokens": lambda: transformers.MistralConfig(
        **SMALL, num_attention_heads=4, num_key_value_heads=2, head_dim=64, sliding_window=128, rms_norm_eps=1e-5),
}
# Variants sageval must refuse rather than run differently, with the text its error must contain.
REFUSED = {"mistral_window_shorter_than_tokens": "sliding_window is 128 tokens"}
MODEL_CLASSES = {"llama": transformers.LlamaForCausalLM, "mistral": transformers.MistralForCausalLM,
                 "qwen2": transformers.Qwen2ForCausalLM}


def run_sageval(binary, folder, tokens_file, out, backend, device, dtype):
    cmd = [binary, "logits", "--model", folder, "--tokens-file", tokens_file, "--out", out,
           "--attention-backend", backend, "--device", device, "--dtype", dtype]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    meta = json.load(open(out + ".json"))
    return np.fromfile(out, dtype=np.float32).reshape(meta["shape"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sageval", required=True, help="path to the sageval executable")
    parser.add_argument("--gpu", action="store_true", help="also run fp16 on CUDA with the fp16 and sage_int8 backends")
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--out", default=None, help="write the figures as JSON here")
    parser.add_argument("--keep", default=None, help="save the models in this folder (default: a temporary one)")
    args = parser.parse_args()
    torch.manual_seed(0)
    work = args.keep or tempfile.mkdtemp(prefix="sageval_crosscheck_")
    os.makedirs(work, exist_ok=True)
    results, ok = [], True
    for name, make_config in ARCHITECTURES.items():
        torch.manual_seed(1234)
        config = make_config()
        config._attn_implementation = "eager"  # plain softmax attention in float32 as the reference
        model = MODEL_CLASSES[name.split("_")[0]](config).eval().to(torch.float32)
        # transformers initialises with std 0.02; widen q/k so that attention is far from uniform (scores with a
        # spread of about 2, as in trained models).
        with torch.no_grad():
            for layer in model.model.layers:
                layer.self_attn.q_proj.weight.mul_(4)
                layer.self_attn.k_proj.weight.mul_(4)
                # Biases (zero at initialisation) get values, so that a bias dropped or misplaced shows.
                for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj,
                             layer.self_attn.o_proj, layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj):
                    if getattr(proj, "bias", None) is not None:
                        proj.bias.normal_(0, 0.1)
        folder = os.path.join(work, name)
        model.save_pretrained(folder, safe_serialization=True)
        saved = json.load(open(os.path.join(folder, "config.json")))
        print(f"{name}: saved config fields:",
              {k: saved[k] for k in ("rope_theta", "rope_scaling", "rope_parameters", "tie_word_embeddings",
                                     "attention_bias", "mlp_bias", "hidden_act", "head_dim", "sliding_window",
                                     "use_sliding_window", "layer_types") if k in saved})
        tokens = torch.randint(0, config.vocab_size, (1, args.tokens), generator=torch.Generator().manual_seed(7))
        tokens_file = os.path.join(work, f"{name}.tokens")
        with open(tokens_file, "w") as f:
            f.write(" ".join(str(t) for t in tokens[0].tolist()))
        with torch.no_grad():
            ref = model(tokens).logits[0].float().numpy()
        span = float(ref.max() - ref.min())
        if name in REFUSED:
            out = os.path.join(work, f"{name}.bin")
            proc = subprocess.run([args.sageval, "logits", "--model", folder, "--tokens-file", tokens_file, "--out", out,
                                   "--attention-backend", "math"], capture_output=True, text=True)
            refused = proc.returncode != 0 and REFUSED[name] in proc.stderr
            ok = ok and refused
            results.append({"architecture": name, "expected": "refused", "stderr": proc.stderr.strip(), "pass": refused})
            print(f"{name:34s} refused: {'PASS' if refused else 'FAIL'} ({proc.stderr.strip()[:160]})")
            continue
        runs = [("math", "cpu", "fp32")]
        if args.gpu:
            runs += [("math", "cuda", "fp32"), ("fp16", "cuda", "fp16"), ("sage_int8", "cuda", "fp16"),
                     ("fp16", "cuda", "bf16"), ("sage_int8", "cuda", "bf16")]
        for backend, device, dtype in runs:
            ours = run_sageval(args.sageval, folder, tokens_file, os.path.join(work, f"{name}_{backend}_{device}_{dtype}.bin"),
                               backend, device, dtype)
            diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
            rel = float(diff.max()) / span
            top1 = float((ours.argmax(-1) == ref.argmax(-1)).mean())
            row = {"architecture": name, "backend": backend, "device": device, "dtype": dtype,
                   "max_abs_diff": float(diff.max()), "logit_range": span, "max_abs_over_range": rel,
                   "top1_agreement": top1}
            gated = backend == "math" and dtype == "fp32"
            if gated:
                row["gate"] = "max_abs_over_range <= 1e-4"
                row["pass"] = rel <= 1e-4
                ok = ok and row["pass"]
            results.append(row)
            print(f"{name:34s} {backend:10s} {device:5s} {dtype:5s} max|diff| {diff.max():.3e}  /range {rel:.3e}  "
                  f"top1 {top1:.4f}" + (f"  {'PASS' if row['pass'] else 'FAIL'}" if gated else ""))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "tokens": args.tokens,
                       "results": results}, f, indent=2)
    print("crosscheck:", "pass" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
