#!/usr/bin/env python3
"""The peers of quantc's linear kernels on the GPU, for ncu to time.

For M in 1, 16, 64, 256 and K x N in 4096 x 4096 and 4096 x 14336 it runs
  torch_fp16:  torch.matmul(x [M, K] fp16, w [K, N] fp16)       (cuBLAS)
  torch_int4:  torch.ops.aten._weight_int4pack_mm(x bf16, w int4 g128)
               (torch's tinygemm int4 kernel, the int4 peer a user gets)
each call inside an NVTX range named `<peer>_M<M>_K<K>_N<N>`, REPEAT times
after a warm-up. Run it under
  ncu --nvtx --print-nvtx-rename kernel --clock-control none \
      --metrics gpu__time_duration.sum --csv python3 torch_linear_peers.py
so that every kernel is timed on its own with cold caches (ncu flushes
them before each kernel), as quantc's kernels are.
"""
import torch

MS = (1, 16, 64, 256)
SHAPES = ((4096, 4096), (4096, 14336))
REPEAT = 3
GROUP = 128


def int4_weight(k, n):
    """torch's packed int4 weight and its [K/G, N, 2] scales and zeros."""
    codes = torch.randint(0, 16, (n, k), dtype=torch.int32, device="cuda")
    packed_u8 = (codes[:, ::2] << 4 | codes[:, 1::2]).to(torch.uint8)
    packed = torch.ops.aten._convert_weight_to_int4pack(packed_u8, 8)
    scales_zeros = torch.rand(k // GROUP, n, 2, device="cuda").to(torch.bfloat16)
    return packed, scales_zeros


def main():
    torch.manual_seed(0)
    for k, n in SHAPES:
        w16 = torch.randn(k, n, device="cuda", dtype=torch.float16) * 0.02
        w4, sz = int4_weight(k, n)
        for m in MS:
            x16 = torch.randn(m, k, device="cuda", dtype=torch.float16)
            xbf = x16.to(torch.bfloat16)
            peers = {
                "torch_fp16": lambda: torch.matmul(x16, w16),
                "torch_int4": lambda: torch.ops.aten._weight_int4pack_mm(xbf, w4, GROUP, sz),
            }
            for name, fn in peers.items():
                fn()  # warm-up: cuBLAS heuristics, lazy loading
                torch.cuda.synchronize()
                for _ in range(REPEAT):
                    torch.cuda.nvtx.range_push(f"{name}_M{m}_K{k}_N{n}")
                    fn()
                    torch.cuda.nvtx.range_pop()
                torch.cuda.synchronize()


if __name__ == "__main__":
    main()
