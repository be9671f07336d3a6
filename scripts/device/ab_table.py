#!/usr/bin/env python3
"""One row per shape from an ab_bench.sh log (ab_runs.txt): each side's int8_k TOPS over its rounds, and int8+q
in brackets, so that a same-run A/B reads at a glance. Run here on the file the device call brought back.

usage: ab_table.py AB_RUNS_TXT [SIDE,SIDE,...]   (sides default to the order they first appear in the log)
"""
import collections
import re
import sys


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__.strip())
    figures = collections.defaultdict(lambda: collections.defaultdict(list))
    sides, side, in_table = [], None, False
    with open(argv[1], encoding="utf-8") as log:
        for line in log:
            header = re.match(r"== (\S+?),? ", line)
            if header:
                side, in_table = header.group(1), False
                if side not in sides:
                    sides.append(side)
                continue
            if line.startswith("TOPS"):
                in_table = True
            elif line.startswith("Quantization"):
                in_table = False
            row = re.match(r"\s+(64|128)\s+(\d+)\s+(no|yes)\s+\|\s+(\d+)\s+(\d+)", line) if in_table else None
            if row and side:
                shape = (int(row.group(1)), row.group(3), int(row.group(2)))
                figures[shape][side].append((row.group(4), row.group(5)))
    if len(argv) == 3:
        sides = argv[2].split(",")
    if not figures:
        sys.exit(f"{argv[1]}: no benchmark table found (is it an ab_bench.sh log?)")
    print("| D | causal | N | " + " | ".join(sides) + " |")
    print("|---" * (3 + len(sides)) + "|")
    for shape in sorted(figures):
        cells = []
        for s in sides:
            runs = figures[shape].get(s, [])
            cells.append("/".join(k for k, _ in runs) + (" (" + "/".join(q for _, q in runs) + ")" if runs else "-"))
        print(f"| {shape[0]} | {shape[1]} | {shape[2]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv)
