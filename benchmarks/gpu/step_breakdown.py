#!/usr/bin/env python3
"""Per-kernel breakdown of one decode step, from an ncu CSV of a quant-run
that ran a prompt and one or more decode steps with CUDA graphs off
(run_gpu_bench.sh, part "step"): the kernels after the last-but-one
argmax are the last step's. Kernels are grouped by name without the
numeric suffixes outlining gives copies (qc_linear_4096_4096_3 ->
qc_linear_4096_4096); each group's launches, time, share of the step and
DRAM bandwidth (ncu with cold caches: every kernel reads from memory).

usage: step_breakdown.py NCU.csv LAYERS [TITLE]   (Markdown to stdout)
"""
import csv
import re
import sys


def main():
    path, layers = sys.argv[1], int(sys.argv[2])
    title = sys.argv[3] if len(sys.argv) > 3 else path
    with open(path) as f:
        rows = list(csv.DictReader(l for l in f if l.startswith('"')))
    kernels = {}  # ID -> [name, ns, bytes]
    for r in rows:
        k = kernels.setdefault(int(r["ID"]), [r["Kernel Name"], 0.0, 0.0])
        value = float(r["Metric Value"].replace(",", ""))
        if r["Metric Name"] == "gpu__time_duration.sum":
            k[1] = value
        elif r["Metric Name"] == "dram__bytes.sum":
            k[2] = value
    ordered = [kernels[i] for i in sorted(kernels)]
    # Steps end with the argmax (one or more kernels named qc_argmax*).
    ends = [i for i, k in enumerate(ordered)
            if k[0].startswith("qc_argmax")
            and (i + 1 == len(ordered) or not ordered[i + 1][0].startswith("qc_argmax"))]
    if len(ends) < 2:
        sys.exit(f"{path}: fewer than two steps")
    step = ordered[ends[-2] + 1:ends[-1] + 1]
    total = sum(k[1] for k in step)
    groups = {}
    for name, ns, b in step:
        base = re.sub(r"(_\d+)+$", "", name)
        # Keep the shape of linear kernels (qc_linear_awq_mma_4096_4096).
        if base.startswith("qc_linear") or base.startswith("qc_row_reduction"):
            m = re.match(r"(.*?_\d+_\d+|qc_row_reduction_\d+)", name)
            base = m.group(1) if m else base
        g = groups.setdefault(base, [0, 0.0, 0.0])
        g[0] += 1
        g[1] += ns
        g[2] += b
    print(f"#### {title}: one decode step, {len(step)} kernels "
          f"({len(step) / layers:.1f} per layer), {total / 1e3:.1f} us "
          "(sum of kernel times, ncu, cold L2)\n")
    print("| kernel | launches | us | share | GB/s |")
    print("|---|---|---|---|---|")
    for base, (n, ns, b) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        print(f"| {base} | {n} | {ns / 1e3:.1f} | {100 * ns / total:.1f}% | "
              f"{b / ns if ns else 0:.0f} |")
    print()


if __name__ == "__main__":
    main()
