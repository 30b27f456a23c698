#!/usr/bin/env python3
"""Writes weights.safetensors for a package compiled with --no-weights:
every weight argument of manifest.json gets random values of its dtype and
shape, drawn on the GPU. Floats ~ N(0, std) (norm weights 1), packed integer
codes uniform over their bits, quantization scales small and positive —
a model of the package's shape that computes finite numbers, for timing.

usage: fill_random_weights.py PKG
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32,
          "I8": torch.int8, "U8": torch.uint8, "I32": torch.int32}
# The runtime's own arguments (tokens ... logits) come first
# (include/qc/ABI/ForwardABI.h); weights follow.
FIRST_WEIGHT = 8


def tensor(name, dtype, shape, g):
    dev = "cuda"
    t = DTYPES[dtype]
    if t.is_floating_point:
        if "norm" in name:
            return torch.ones(shape, dtype=t, device=dev)
        if name.split("+")[0].endswith((".scales", ".absmax")):
            return (torch.rand(shape, generator=g, device=dev) * 0.01 + 0.005).to(t)
        return (torch.randn(shape, generator=g, device=dev) * 0.02).to(t)
    info = torch.iinfo(t)
    return torch.randint(info.min, info.max, shape, generator=g, device=dev,
                         dtype=torch.int64).to(t)


def main():
    pkg = sys.argv[1]
    with open(os.path.join(pkg, "manifest.json")) as f:
        manifest = json.load(f)
    g = torch.Generator(device="cuda").manual_seed(0)
    weights = {}
    for arg in manifest["kernels"]["args"][FIRST_WEIGHT:]:
        weights[arg["name"]] = tensor(arg["name"], arg["dtype"], arg["shape"], g).cpu()
    save_file(weights, os.path.join(pkg, "weights.safetensors"))
    total = sum(t.numel() * t.element_size() for t in weights.values())
    print(f"{pkg}: {len(weights)} random weights, {total / 2**30:.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
