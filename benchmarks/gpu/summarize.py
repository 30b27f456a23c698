#!/usr/bin/env python3
"""Tables of run_gpu_bench.sh's measurements (Markdown, to stdout).

usage: summarize.py DIR   (DIR holds ours_<format>_M<M>.csv and torch.csv
                           from ncu, and decode.txt)
"""
import csv
import glob
import os
import re
import statistics
import sys

SHAPES = ((4096, 4096), (4096, 14336))
MS = (1, 16, 64, 256)


def kernel_times(path):
    """{kernel name: [ns, ...]} of an ncu --csv --print-units base file."""
    times = {}
    with open(path) as f:
        lines = [l for l in f if l.startswith('"')]
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        times.setdefault(row["Kernel Name"], []).append(value)
    return times


def main():
    d = sys.argv[1]
    ours = {}
    kinds = {}
    for path in glob.glob(os.path.join(d, "ours_*_M*.csv")):
        fmt, m = re.match(r"ours_(\w+)_M(\d+)\.csv", os.path.basename(path)).groups()
        for name, ts in kernel_times(path).items():
            g = re.match(r"qc_(?:linear_(mma_|awq_mma_|staged_|wgmma_(?:wide_)?|"
                         r"columns_(?:t\d+_)?)?|(dequantize_))(\d+)_(\d+)",
                         name)
            if g:
                n, k = int(g.group(3)), int(g.group(4))
                # A step runs each layer once: its time is the sum of its
                # kernels (the dequantization, then the GEMM).
                ours.setdefault((fmt, int(m), k, n), []).append(sum(ts))
                kind = g.group(2) or g.group(1)
                kinds.setdefault(int(m), set()).add(
                    f"thread per AWQ word column, tiles of tokens "
                    f"(qc_linear_{kind}*)" if kind and kind.startswith("columns_t")
                    else {
                    "mma_": "tensor cores, direct loads (qc_linear_mma_*)",
                    "awq_mma_": "tensor cores, AWQ codes in fragment order "
                                "(qc_linear_awq_mma_*)",
                    "staged_": "tensor cores, staged in shared memory "
                               "(qc_linear_staged_*)",
                    "wgmma_": "wgmma, staged in swizzled shared memory "
                              "(qc_linear_wgmma_*)",
                    "wgmma_wide_": "wgmma, 128 x 256 tiles "
                                   "(qc_linear_wgmma_wide_*)",
                    "dequantize_": "weights dequantized to f16 first "
                                   "(qc_dequantize_*)",
                    "columns_": "thread per AWQ word column "
                                "(qc_linear_columns_*)",
                    None: "warp per feature (qc_linear_*)"}[kind])
    peers = {}
    for name, ts in kernel_times(os.path.join(d, "torch.csv")).items():
        g = re.match(r"(torch_\w+?)_M(\d+)_K(\d+)_N(\d+)", name)
        if g:
            # All kernels of one call run inside its range: sum per call.
            peers.setdefault((g.group(1), int(g.group(2)), int(g.group(3)),
                              int(g.group(4))), []).extend(ts)
    formats = sorted({k[0] for k in ours})

    def us(ts):
        return sum(ts) / 1e3 if ts else None

    print("| K x N | M | cuBLAS fp16 (us) | torch int4 (us) | "
          + " | ".join(f"quantc {f} (us)" for f in formats)
          + " | " + " | ".join(f"{f} vs cuBLAS" for f in formats) + " |")
    print("|" + "---|" * (4 + 2 * len(formats)))
    for k, n in SHAPES:
        for m in MS:
            # torch's ranges can hold several kernels (split-K): per call =
            # total / repeats, where repeats = number of range instances.
            def peer(name):
                ts = peers.get((name, m, k, n), [])
                return sum(ts) / 3 / 1e3 if ts else None
            fp16, int4 = peer("torch_fp16"), peer("torch_int4")
            row = [f"{k} x {n}", str(m), f"{fp16:.1f}" if fp16 else "-",
                   f"{int4:.1f}" if int4 else "-"]
            ratios = []
            for f in formats:
                t = us(ours.get((f, m, k, n), []))
                row.append(f"{t:.1f}" if t else "-")
                ratios.append(f"{fp16 / t:.2f}x" if t and fp16 else "-")
            print("| " + " | ".join(row + ratios) + " |")
    print()
    for m in sorted(kinds):
        print(f"- M = {m}: quantc kernels: {', '.join(sorted(kinds[m]))}")


if __name__ == "__main__":
    main()
