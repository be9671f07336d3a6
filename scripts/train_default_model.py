#!/usr/bin/env python3
"""Trains sageval's default model on the GPU machine: a byte-level LlamaForCausalLM.

Vocabulary: 256 bytes, BOS = 256, EOS = 257, padded to 320 (a multiple of 64). Head dim 128, 4 query heads and
2 key/value heads (GQA 2), 6 layers, RoPE, trained on 8192-byte sequences from the public-domain corpus in
$SAGEVAL_DATA_DIR/corpus/ plus wikitext-2-raw/wiki.valid.raw (never a test split). Fixed seed, bf16 autocast,
AdamW with warm-up and cosine decay, for a fixed wall-clock budget. Saves float16 weights in Hugging Face format
(safetensors shards of at most 15 MB) and an eval.json with bits per byte on wiki.test.raw and ptb.test.txt,
measured by transformers in float32 on the saved (float16-rounded) weights, with the protocol of
sageval/eval/perplexity.h (BOS, then disjoint windows of `context` bytes, every byte scored once).

Usage: scripts/train_default_model.py --data-dir DIR --out data/models/sageval-byte-llama [--minutes 4]
"""
import argparse
import glob
import json
import math
import os
import time

import numpy as np
import torch
import transformers

BOS, EOS, VOCAB = 256, 257, 320


def byte_tokens(path, max_bytes=None):
    data = open(path, "rb").read()
    if max_bytes is not None:
        data = data[:max_bytes]
    return np.concatenate([[BOS], np.frombuffer(data, dtype=np.uint8).astype(np.int64)]), len(data)


@torch.no_grad()
def bits_per_byte(model, tokens, context, device, batch=8):
    """Disjoint windows of `context` tokens; every token after BOS scored once (as sageval's nll)."""
    t = torch.from_numpy(tokens)
    n = len(t)
    starts = list(range(0, n - 1, context))
    nll, scored = 0.0, 0
    i = 0
    while i < len(starts):
        length = min(context, n - 1 - starts[i])
        group = [s for s in starts[i:i + batch] if min(context, n - 1 - s) == length]
        x = torch.stack([t[s:s + length] for s in group]).to(device)
        y = torch.stack([t[s + 1:s + 1 + length] for s in group]).to(device)
        logp = torch.log_softmax(model(x).logits.double(), -1)
        nll -= logp.gather(-1, y.unsqueeze(-1)).sum().item()
        scored += len(group) * length
        i += len(group)
    return {"tokens_scored": scored, "nats_per_byte": nll / scored, "bits_per_byte": nll / scored / math.log(2)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.environ.get("SAGEVAL_DATA_DIR"))
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=4.0, help="training wall-clock budget")
    p.add_argument("--seq-len", type=int, default=8192)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--eval-context", type=int, default=8192)
    p.add_argument("--ci-slice-bytes", type=int, default=4096, help="bytes of wiki.test.raw for the CPU test")
    p.add_argument("--ci-slice-context", type=int, default=1024)
    args = p.parse_args()
    if not args.data_dir:
        raise SystemExit("set --data-dir or SAGEVAL_DATA_DIR")
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    device = "cuda"

    train_files = sorted(glob.glob(os.path.join(args.data_dir, "corpus", "*.txt"))) + \
        [os.path.join(args.data_dir, "wikitext-2-raw", "wiki.valid.raw")]
    streams = [byte_tokens(f)[0] for f in train_files]
    corpus = torch.from_numpy(np.concatenate(streams))
    print(f"training text: {', '.join(os.path.relpath(f, args.data_dir) for f in train_files)}; {len(corpus):,} tokens")

    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=512, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=4,
        num_key_value_heads=2, head_dim=128, max_position_embeddings=args.seq_len, rope_theta=100000.0,
        rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=EOS)
    config._attn_implementation = "sdpa"
    model = transformers.LlamaForCausalLM(config).to(device)
    params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {params:,}")

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), fused=True)
    budget = args.minutes * 60.0
    warmup = 100
    gen = torch.Generator().manual_seed(args.seed)
    start = time.time()
    step, tokens_seen, losses = 0, 0, []
    model.train()
    while True:
        elapsed = time.time() - start
        if elapsed >= budget:
            break
        frac = elapsed / budget  # schedule by time so the budget, not a step count, fixes the run
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, len(corpus) - args.seq_len - 1, (args.batch,), generator=gen)
        batch = torch.stack([corpus[i:i + args.seq_len + 1] for i in idx]).to(device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(batch[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += args.batch * args.seq_len
        if step % 50 == 0:
            losses.append((step, loss.item()))
            print(f"step {step:5d}  {time.time() - start:6.1f} s  lr {lr:.2e}  loss {loss.item():.4f} nats/byte", flush=True)
    train_seconds = time.time() - start
    final_loss = loss.item()
    print(f"trained {step} steps, {tokens_seen:,} tokens in {train_seconds:.1f} s; last loss {final_loss:.4f}", flush=True)

    # Save float16 weights; evaluate exactly those (float16-rounded, computed in float32).
    model.eval()
    model = model.to(torch.float16)
    model.config.torch_dtype = torch.float16
    os.makedirs(args.out, exist_ok=True)
    for old in glob.glob(os.path.join(args.out, "*.safetensors")) + glob.glob(os.path.join(args.out, "*.index.json")):
        os.remove(old)
    model.save_pretrained(args.out, safe_serialization=True, max_shard_size="15MB")
    model = model.to(torch.float32)
    model.config._attn_implementation = "eager"
    results = {}
    for name, rel in [("wiki.test.raw", "wikitext-2-raw/wiki.test.raw"), ("ptb.test.txt", "ptb/ptb.test.txt")]:
        toks, nbytes = byte_tokens(os.path.join(args.data_dir, rel))
        results[name] = dict(bits_per_byte(model, toks, args.eval_context, device), bytes=nbytes, context=args.eval_context)
        print(f"{name}: {results[name]['bits_per_byte']:.4f} bits/byte over {nbytes:,} bytes (context {args.eval_context})")
    toks, nbytes = byte_tokens(os.path.join(args.data_dir, "wikitext-2-raw/wiki.test.raw"), args.ci_slice_bytes)
    ci = dict(bits_per_byte(model, toks, args.ci_slice_context, device), bytes=nbytes, context=args.ci_slice_context,
              file="wikitext-2-raw/wiki.test.raw")
    print(f"CI slice: {ci['bits_per_byte']:.5f} bits/byte over the first {nbytes} bytes (context {args.ci_slice_context})")
    sizes = {os.path.basename(f): os.path.getsize(f) for f in glob.glob(os.path.join(args.out, "*.safetensors"))}
    info = {
        "architecture": "LlamaForCausalLM", "parameters": params,
        # transformers 5 keeps rope_theta under rope_parameters; read the saved config rather than attributes.
        "config": {k: v for k, v in json.load(open(os.path.join(args.out, "config.json"))).items()
                   if k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads", "num_key_value_heads", "head_dim", "rope_theta", "rope_parameters")},
        "training": {"files": [os.path.relpath(f, args.data_dir) for f in train_files], "corpus_tokens": len(corpus),
                     "seq_len": args.seq_len, "batch": args.batch, "steps": step, "tokens": tokens_seen,
                     "seconds": round(train_seconds, 1), "final_loss_nats_per_byte": final_loss, "seed": args.seed,
                     "lr": args.lr, "loss_curve": losses, "device": torch.cuda.get_device_name(),
                     "torch": torch.__version__, "transformers": transformers.__version__},
        "eval": results, "ci_slice": ci, "weights_bytes": sizes,
        "eval_note": "transformers, float32 compute on the saved float16 weights, eager attention",
    }
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(json.dumps({k: info[k] for k in ("parameters", "eval", "ci_slice", "weights_bytes")}, indent=1))


if __name__ == "__main__":
    main()
