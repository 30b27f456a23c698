#!/usr/bin/env python3
"""Writes small greedy-continuation files for quant-bench-greedy.test.

ref.safetensors holds the reference: tokens greedy (4 ids over a vocabulary
of 4) and decode_logits_fp32 (3 rows: row i chose token i + 1); row 1 is a
near-tie between ids 3 (the reference's choice, 5.0) and 0 (4.99). Each
other file is a run, as quant-run --logits-out writes it (tokens,
decode_logits):
  equal  same tokens, logits within 1e-3
  tie    departs at token 2 (picks 0 in the tie), logits within 1e-3
  far    departs at token 2, its row 1 far from the reference's
  first  departs at token 0
  short  3 tokens
usage: make_greedy_cases.py DIR
"""
import json
import os
import struct
import sys


def write(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, values) in tensors.items():
        blob = struct.pack(f"<{len(values)}{'q' if dtype == 'I64' else 'f'}", *values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    out = sys.argv[1]
    rows = [[1.0, 2.0, 9.0, 0.5], [4.99, 1.0, 0.0, 5.0], [7.0, 0.0, 1.0, 2.0]]
    ref_tokens = [1, 2, 3, 0]
    flat = lambda rs: [v for r in rs for v in r]
    nudged = [[v + 1e-3 for v in r] for r in rows]
    tie = [r[:] for r in nudged]
    tie[1][0] = 5.002
    far = [r[:] for r in tie]
    far[1] = [9.0, -3.0, 4.0, 5.0]
    write(os.path.join(out, "ref.safetensors"),
          {"greedy": ("I64", [4], ref_tokens),
           "decode_logits_fp32": ("F32", [3, 4], flat(rows))})
    runs = {"equal": (ref_tokens, nudged), "tie": ([1, 2, 0, 0], tie),
            "far": ([1, 2, 0, 0], far), "first": ([0, 2, 3, 0], nudged),
            "short": ([1, 2, 3], nudged[:2])}
    for name, (tokens, logits) in runs.items():
        write(os.path.join(out, f"{name}.safetensors"),
              {"tokens": ("I64", [len(tokens)], tokens),
               "decode_logits": ("F32", [len(logits), 4], flat(logits))})


if __name__ == "__main__":
    main()
