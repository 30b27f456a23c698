#!/usr/bin/env python3
"""Writes a pre-quantized checkpoint with the tensor layout of a real one.

Usage: make_prequantized.py SRC_MODEL_DIR DST_DIR FORMAT [--drop NAME] [--bad-shape NAME]

FORMAT: awq (AutoAWQ GEMM, group 32), awq-gemv (AutoAWQ GEMV), llm-awq
(llm-awq's WQLinear), nf4, nf4-dq (double quant), llm-int8.
The linear layers of the decoder are replaced by the tensors that format
stores (contents are zeros: the importer checks names, dtypes and shapes;
the numerics of each format are tested in the quantization library). Other
parameters are copied. Pure Python, so lit can run it anywhere.
"""
import json, os, struct, sys

LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "I16": 2, "I8": 1, "U8": 1}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in header.items()}


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def zeros(dtype, shape):
    n = 1
    for d in shape:
        n *= d
    return (dtype, shape, bytes(n * DTYPE_SIZE[dtype]))


def zeros_width(k, g):
    """AutoAWQ's calculate_zeros_width (pack_num 8)."""
    multiplier = 1 if g >= 128 else {64: 2, 32: 4}[g]
    base = (k // g + 7) // 8
    return (base + multiplier - 1) // multiplier * multiplier


def filled(dtype, shape, word):
    """A tensor whose every element has the little-endian bytes `word`."""
    n = 1
    for d in shape:
        n *= d
    return (dtype, shape, word * n)


def quantized(fmt, prefix, n, k):
    if fmt == "awq-gemv":
        g, zw = 32, zeros_width(k, 32)
        return {prefix + ".qweight": zeros("I32", [n, k // 8]),
                prefix + ".qzeros": zeros("I32", [n, zw]),
                prefix + ".scales": zeros("F16", [n, 8 * zw])}
    if fmt == "llm-awq":
        # scale 1.0 and scaled zero -8.0 (fp16): zero points of 8.
        zw = zeros_width(k, 32)
        return {prefix + ".qweight": zeros("I16", [n // 4, k]),
                prefix + ".scales": filled("F16", [8 * zw, n], b"\x00\x3c"),
                prefix + ".scaled_zeros": filled("F16", [8 * zw, n], b"\x00\xc8")}
    if fmt == "awq":
        g = 32
        return {prefix + ".qweight": zeros("I32", [k, n // 8]),
                prefix + ".qzeros": zeros("I32", [k // g, n // 8]),
                prefix + ".scales": zeros("F16", [k // g, n])}
    if fmt in ("nf4", "nf4-dq"):
        blocks = n * k // 64
        state = json.dumps({"quant_type": "nf4", "blocksize": 64, "dtype": "float16",
                            "shape": [n, k]}).encode()
        t = {prefix + ".weight": zeros("U8", [n * k // 2, 1]),
             prefix + ".weight.quant_map": zeros("F32", [16]),
             prefix + ".weight.quant_state.bitsandbytes__nf4": ("U8", [len(state)], state)}
        if fmt == "nf4-dq":
            t[prefix + ".weight.absmax"] = zeros("U8", [blocks])
            t[prefix + ".weight.nested_absmax"] = zeros("F32", [(blocks + 255) // 256])
            t[prefix + ".weight.nested_quant_map"] = zeros("F32", [256])
        else:
            t[prefix + ".weight.absmax"] = zeros("F32", [blocks])
        return t
    if fmt == "llm-int8":
        return {prefix + ".weight": zeros("I8", [n, k]), prefix + ".SCB": zeros("F32", [n])}
    raise SystemExit("unknown format " + fmt)


CONFIGS = {
    "awq-gemv": {"quant_method": "awq", "bits": 4, "group_size": 32, "zero_point": True,
                 "version": "gemv"},
    "llm-awq": {"quant_method": "awq", "bits": 4, "group_size": 32, "zero_point": True,
                "backend": "llm-awq"},
    "awq": {"quant_method": "awq", "bits": 4, "group_size": 32, "zero_point": True,
            "version": "gemm", "modules_to_not_convert": None},
    "nf4": {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
            "bnb_4bit_use_double_quant": False, "llm_int8_skip_modules": None},
    "nf4-dq": {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
               "bnb_4bit_use_double_quant": True},
    "llm-int8": {"quant_method": "bitsandbytes", "load_in_8bit": True, "llm_int8_threshold": 6.0},
}


def main():
    src, dst, fmt, *rest = sys.argv[1:]
    drop = rest[rest.index("--drop") + 1] if "--drop" in rest else None
    bad = rest[rest.index("--bad-shape") + 1] if "--bad-shape" in rest else None
    os.makedirs(dst, exist_ok=True)
    config = json.load(open(os.path.join(src, "config.json")))
    config["quantization_config"] = CONFIGS[fmt]
    json.dump(config, open(os.path.join(dst, "config.json"), "w"), indent=2)
    out = {}
    for name, t in read_safetensors(os.path.join(src, "model.safetensors")).items():
        module = name[: -len(".weight")]
        if name.endswith(".weight") and module.split(".")[-1] in LINEARS:
            out.update(quantized(fmt, module, *t[1]))
        else:
            out[name] = t
    if drop:
        del out[drop]
    if bad:
        dtype, shape, _ = out[bad]
        out[bad] = zeros(dtype, [shape[0] + 8] + shape[1:])
    write_safetensors(os.path.join(dst, "model.safetensors"), out)


if __name__ == "__main__":
    main()
