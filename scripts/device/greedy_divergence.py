#!/usr/bin/env python3
"""Where greedy continuations depart from a reference, and by how much.

Runs each package on the reference's prompt N for as many greedy tokens as
the reference has (quant-run --logits-out: the logits of every step), finds
the first step where any package's token differs from the reference, and
prints, for every package at that step, the logits of the reference's token
and of the other candidate: a margin that is tiny against the logits' spread
is a near-tie, which any change of summation order may flip.

usage: greedy_divergence.py QUANT_RUN REFERENCE.safetensors N PKG [PKG ...]
       (the reference holds prompt_ids.N and greedy_fp32.N)
"""
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file


def step_logits(quant_run, pkg, prompt, count):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.safetensors")
        subprocess.run([quant_run, pkg, "--prompt-ids", ",".join(map(str, prompt)),
                        "--max-new-tokens", str(count), "--ignore-eos",
                        "--logits-out", out], check=True, stdout=subprocess.DEVNULL)
        t = load_file(out)
    rows = [t["prompt_logits"][-1:]]
    if "decode_logits" in t:
        rows.append(t["decode_logits"])
    return torch.cat(rows), t["tokens"].tolist()


def main():
    quant_run, ref_path, n, pkgs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    ref = load_file(ref_path)
    prompt = ref[f"prompt_ids.{n}"].tolist()
    greedy = ref[f"greedy_fp32.{n}"].tolist()
    runs = {p: step_logits(quant_run, p, prompt, len(greedy)) for p in pkgs}
    first = min((next((i for i, (a, b) in enumerate(zip(toks, greedy)) if a != b),
                      len(greedy)) for _, toks in runs.values()))
    if first == len(greedy):
        print(f"prompt {n}: every package = the reference for {len(greedy)} tokens")
        return
    others = {toks[first] for _, toks in runs.values()} - {greedy[first]}
    print(f"prompt {n}: first departure at generated token {first} "
          f"(reference {greedy[first]}, other {sorted(others)})")
    for pkg, (logits, toks) in runs.items():
        row = logits[first]
        spread = (row.max() - row.min()).item()
        cells = ", ".join(f"logit[{t}] = {row[t].item():.6f}"
                          for t in [greedy[first], *sorted(others)])
        print(f"  {os.path.basename(pkg)}: picks {toks[first]}; {cells}; "
              f"spread {spread:.3f}")


if __name__ == "__main__":
    main()
