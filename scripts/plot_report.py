#!/usr/bin/env python3
"""Figures for REPORT.md, drawn from the JSON records of one run (called by `sageval report`).

Usage: plot_report.py REPORT_DIR     writes REPORT_DIR/figures/*.png for whichever records exist.
"""
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_jsonl(path):
    records = {}
    if not os.path.exists(path):
        return []
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                records[(r["case"], r.get("candidate"), r.get("baseline"))] = r  # a rerun replaces the earlier one
    return list(records.values())


def read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def num(value, floor=None):
    """A record's figure as a float: NaN where it is missing or not a number ("nan", null), `floor` at least."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return max(x, floor) if floor is not None and not math.isnan(x) else x


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print("wrote", path)


def grid(n):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def kernel_tops(doc, out_dir):
    shapes = doc.get("shapes", [])
    panels = sorted({(s["head_dim"], s["causal"]) for s in shapes})
    if not panels:
        return
    names = [("sage_int8_kernel", "int8 kernel"), ("sage_int8_with_quant", "int8 + quant"), ("fp16_kernel", "fp16 kernel"),
             ("sdpa_flash", "SDPA flash"), ("sdpa_cudnn", "SDPA cuDNN")]
    fig, axes = grid(len(panels))
    for ax, (d, causal) in zip(axes, panels):
        rows = sorted((s for s in shapes if s["head_dim"] == d and s["causal"] == causal), key=lambda s: s["seq"])
        for key, label in names:
            pts = [(s["seq"], s["variants"][key]["tops_median"]) for s in rows
                   if s["variants"].get(key, {}).get("status") == "ok"]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length N")
        ax.set_ylabel("TOPS (median)")
        ax.set_title(f"D={d}, {'causal' if causal else 'non-causal'}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Attention kernels on {doc.get('device', {}).get('name', '?')}")
    save(fig, out_dir, "kernel_tops.png")


def throughput(entries, len_key, title, out_dir, name):
    entries = [e for e in entries if e.get("status") == "ok"]
    batches = sorted({e["batch"] for e in entries})
    if not batches:
        return
    backends = sorted({e["backend"] for e in entries})
    fig, axes = grid(len(batches))
    for ax, b in zip(axes, batches):
        for be in backends:
            pts = sorted((e[len_key], e["tokens_per_s"]) for e in entries if e["batch"] == b and e["backend"] == be)
            if pts:
                ax.plot(*zip(*pts), marker="o", label=be)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("context length" if len_key == "context" else "input length")
        ax.set_ylabel("tokens/s (median)")
        ax.set_title(f"batch {b}")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    save(fig, out_dir, name)


def context_length(records, out_dir):
    if not records:
        return
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    pairs = sorted({(r["candidate"], r["baseline"]) for r in records})
    for cand, base in pairs:
        rows = sorted((r for r in records if (r["candidate"], r["baseline"]) == (cand, base)),
                      key=lambda r: r["figures"]["length"])
        x = [r["figures"]["length"] for r in rows]
        a1.plot(x, [num(r["figures"].get("kld_mean"), 1e-12) for r in rows], marker="o", label=f"{cand} vs {base}")
        a2.errorbar(x, [num(r["figures"].get("same_top1")) for r in rows],
                    yerr=[num(r["figures"].get("same_top1_unc")) for r in rows], marker="o", capsize=3,
                    label=f"{cand} vs {base}")
    a2.axhline(0.99, color="red", linestyle="--", linewidth=1, label="gate 0.99")
    for ax in (a1, a2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("window length L")
        ax.grid(alpha=0.3)
    a1.set_yscale("log")
    a1.set_ylabel("mean KL divergence (nats)")
    a2.set_ylabel("top-1 agreement")
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    save(fig, out_dir, "context_length.png")


def activation_drift(records, out_dir):
    if not records:
        return
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in records:
        layers = r["figures"]["layers"]
        x = [l["layer"] for l in layers]
        label = f"{r['candidate']} vs {r['baseline']}"
        a1.plot(x, [num(l["attention_out"].get("rel_l2"), 1e-12) for l in layers], marker="o", label=label)
        a2.plot(x, [num(l["hidden"].get("rel_l2"), 1e-12) for l in layers], marker="o", label=label)
    for ax, what in ((a1, "attention output"), (a2, "hidden state after the block")):
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_ylabel("relative L2 difference")
        ax.set_title(what)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, out_dir, "activation_drift.png")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = sys.argv[1]
    out_dir = os.path.join(run, "figures")
    os.makedirs(out_dir, exist_ok=True)
    kb = read_json(os.path.join(run, "attention_kernel_bench.json"))
    if kb:
        kernel_tops(kb, out_dir)
    mb = read_json(os.path.join(run, "model_bench.json")) or read_json(os.path.join(run, "model_bench_quick.json"))
    if mb:
        throughput(mb.get("prefill", []), "length", "Model prefill throughput", out_dir, "prefill_throughput.png")
        throughput(mb.get("decode", []), "context", "Model decode throughput", out_dir, "decode_throughput.png")
    context_length(read_jsonl(os.path.join(run, "context_length.jsonl")), out_dir)
    activation_drift(read_jsonl(os.path.join(run, "activation_drift.jsonl")), out_dir)


if __name__ == "__main__":
    main()
