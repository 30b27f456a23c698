#!/usr/bin/env python3
"""Writes weights.safetensors for a package compiled with --no-weights:
every weight argument of manifest.json gets random values of its dtype and
shape, drawn on the GPU (or torch's CPU). Floats ~ N(0, std) (norm
weights 1), packed integer codes uniform over their bits, quantization
scales small and positive — a model of the package's shape that computes
finite numbers, for timing. Without torch (the development machine), each
tensor repeats a 1 MiB block of such values: the same bytes to stream, made
by the standard library alone.

usage: fill_random_weights.py PKG
"""
import json
import os
import random
import struct
import sys

try:
    import torch
    from safetensors.torch import save_file
except ImportError:
    torch = None

DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32,
          "I8": torch.int8, "U8": torch.uint8, "I32": torch.int32} if torch else {}
SIZES = {"F16": 2, "BF16": 2, "F32": 4, "I8": 1, "U8": 1, "I32": 4}
# The runtime's own arguments (tokens ... logits) come first
# (include/qc/ABI/ForwardABI.h); weights follow.
FIRST_WEIGHT = 8


def is_scale(name):
    return name.split("+")[0].endswith((".scales", ".absmax"))


def tensor(name, dtype, shape, g):
    dev = g.device
    t = DTYPES[dtype]
    if t.is_floating_point:
        if "norm" in name:
            return torch.ones(shape, dtype=t, device=dev)
        if is_scale(name):
            return (torch.rand(shape, generator=g, device=dev) * 0.01 + 0.005).to(t)
        return (torch.randn(shape, generator=g, device=dev) * 0.02).to(t)
    info = torch.iinfo(t)
    return torch.randint(info.min, info.max, shape, generator=g, device=dev,
                         dtype=torch.int64).to(t)


def block(name, dtype, rng, size=1 << 20):
    """`size` bytes of values as tensor() draws them."""
    if dtype in ("I8", "U8", "I32"):
        return rng.randbytes(size)
    n = size // SIZES[dtype]
    if "norm" in name:
        values = [1.0] * n
    elif is_scale(name):
        values = [rng.random() * 0.01 + 0.005 for _ in range(n)]
    else:
        values = [rng.gauss(0.0, 0.02) for _ in range(n)]
    if dtype == "F32":
        return struct.pack(f"<{n}f", *values)
    if dtype == "F16":
        return struct.pack(f"<{n}e", *values)
    words = struct.unpack(f"<{n}I", struct.pack(f"<{n}f", *values))
    return struct.pack(f"<{n}H", *(w >> 16 for w in words))


def write_without_torch(pkg, args):
    rng = random.Random(0)
    header, offset = {}, 0
    for arg in args:
        count = 1
        for d in arg["shape"]:
            count *= d
        size = count * SIZES[arg["dtype"]]
        header[arg["name"]] = {"dtype": arg["dtype"], "shape": arg["shape"],
                               "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path = os.path.join(pkg, "weights.safetensors")
    blocks = {}
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for arg in args:
            name, dtype = arg["name"], arg["dtype"]
            kind = (dtype, "norm" in name, is_scale(name))
            if kind not in blocks:
                blocks[kind] = block(name, dtype, rng)
            start, end = header[name]["data_offsets"]
            left = end - start
            while left:
                chunk = blocks[kind][:left]
                f.write(chunk)
                left -= len(chunk)
    os.replace(path + ".tmp", path)
    print(f"{pkg}: {len(args)} random weights (repeated 1 MiB blocks), "
          f"{offset / 2**30:.2f} GiB", flush=True)


def main():
    pkg = sys.argv[1]
    with open(os.path.join(pkg, "manifest.json")) as f:
        manifest = json.load(f)
    if torch is None:
        return write_without_torch(pkg, manifest["kernels"]["args"][FIRST_WEIGHT:])
    g = torch.Generator(device="cuda" if torch.cuda.is_available() else "cpu")
    g.manual_seed(0)
    weights = {}
    for arg in manifest["kernels"]["args"][FIRST_WEIGHT:]:
        weights[arg["name"]] = tensor(arg["name"], arg["dtype"], arg["shape"], g).cpu()
    save_file(weights, os.path.join(pkg, "weights.safetensors"))
    total = sum(t.numel() * t.element_size() for t in weights.values())
    print(f"{pkg}: {len(weights)} random weights, {total / 2**30:.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
