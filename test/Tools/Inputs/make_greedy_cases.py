#!/usr/bin/env python3
"""Writes small greedy-continuation files for quant-bench-greedy.test.

ref.safetensors holds the reference: tokens greedy (4 ids over a vocabulary
of 4), prompt_logits_fp32 (2 prompt rows; the last chose token 0, a
near-tie between ids 1 (the reference's choice, 4.0) and 0 (3.995)) and
decode_logits_fp32 (3 rows: row i chose token i + 1); row 1 is a near-tie
between ids 3 (the reference's choice, 5.0) and 0 (4.99). Each other file
is a run, as quant-run --logits-out writes it (tokens, prompt_logits,
decode_logits):
  equal     same tokens, logits within 1e-3
  tie       departs at token 2 (picks 0 in the tie), logits within 1e-3
  far       departs at token 2, its row 1 far from the reference's
  first     departs at token 0 (picks 0 in the prompt's tie)
  firstfar  departs at token 0, the prompt's last row far from the reference's
  short     3 tokens
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
    prompt = [[0.5, 0.0, 2.0, 1.0], [3.995, 4.0, 0.0, 1.0]]
    near = [[v + 1e-3 for v in r] for r in prompt]
    near_tie = [near[0], [4.002, 4.001, 0.001, 1.001]]
    far_tie = [near[0], [8.0, 4.0, -2.0, 1.0]]
    write(os.path.join(out, "ref.safetensors"),
          {"greedy": ("I64", [4], ref_tokens),
           "prompt_logits_fp32": ("F32", [2, 4], flat(prompt)),
           "decode_logits_fp32": ("F32", [3, 4], flat(rows))})
    runs = {"equal": (ref_tokens, near, nudged),
            "tie": ([1, 2, 0, 0], near, tie),
            "far": ([1, 2, 0, 0], near, far),
            "first": ([0, 2, 3, 0], near_tie, nudged),
            "firstfar": ([0, 2, 3, 0], far_tie, nudged),
            "short": ([1, 2, 3], near, nudged[:2])}
    for name, (tokens, first, logits) in runs.items():
        write(os.path.join(out, f"{name}.safetensors"),
              {"tokens": ("I64", [len(tokens)], tokens),
               "prompt_logits": ("F32", [2, 4], flat(first)),
               "decode_logits": ("F32", [len(logits), 4], flat(logits))})


if __name__ == "__main__":
    main()
