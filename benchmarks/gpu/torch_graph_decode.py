#!/usr/bin/env python3
"""The strongest plain-torch peer of quantc's GPU decode: a Llama-shaped
model (random weights) written in torch with a static KV cache, one whole
decode step — embedding, 32 layers, lm_head, greedy argmax, the position
update — captured in a CUDA graph and replayed, so no Python or launch
overhead is left. Linear layers are cuBLAS fp16 (--weights f16) or torch's
int4 kernel, _weight_int4pack_mm with group 128 and bf16 activations
(--weights int4; lm_head stays bf16, as AWQ leaves it).

Same measurement as `quant-bench decode`: the cache holds P positions,
then N greedy steps; decode tokens/s = B * N / time, best of --repeat.

usage: torch_graph_decode.py CONFIG_DIR --batch B --prompt-len P
                             --new-tokens N --weights f16|int4
"""
import argparse
import json
import os
import time

import torch

GROUP = 128


class Linear:
    """x [M, K] @ W [K, N], dense or int4 (torch's tinygemm layout)."""

    def __init__(self, k, n, int4, g):
        self.int4 = int4
        if int4:
            codes = torch.randint(0, 16, (n, k), dtype=torch.int32,
                                  device="cuda", generator=g)
            packed = (codes[:, ::2] << 4 | codes[:, 1::2]).to(torch.uint8)
            self.w = torch.ops.aten._convert_weight_to_int4pack(packed, 8)
            self.sz = (torch.rand(k // GROUP, n, 2, device="cuda", generator=g)
                       * 0.01).to(torch.bfloat16)
        else:
            self.w = torch.randn(k, n, device="cuda", dtype=torch.float16,
                                 generator=g) * 0.02

    def __call__(self, x):
        if self.int4:
            return torch.ops.aten._weight_int4pack_mm(x, self.w, GROUP, self.sz)
        return x @ self.w


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--weights", choices=("f16", "int4"), default="f16")
    a = p.parse_args()
    with open(os.path.join(a.model, "config.json")) as f:
        c = json.load(f)
    H, I, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    nh = c["num_attention_heads"]
    nkv = c.get("num_key_value_heads", nh)
    hd = H // nh
    V, eps = c["vocab_size"], c.get("rms_norm_eps", 1e-6)
    theta = c.get("rope_theta", 10000.0)
    B, maxlen = a.batch, a.prompt_len + a.new_tokens + 1
    int4 = a.weights == "int4"
    dt = torch.bfloat16 if int4 else torch.float16
    g = torch.Generator(device="cuda").manual_seed(0)

    layers = [dict(qkv=Linear(H, (nh + 2 * nkv) * hd, int4, g),
                   o=Linear(nh * hd, H, int4, g),
                   gate_up=Linear(H, 2 * I, int4, g),
                   down=Linear(I, H, int4, g),
                   n1=torch.ones(H, device="cuda", dtype=dt),
                   n2=torch.ones(H, device="cuda", dtype=dt))
              for _ in range(L)]
    embed = (torch.randn(V, H, device="cuda", generator=g) * 0.02).to(dt)
    lm_head = (torch.randn(H, V, device="cuda", generator=g) * 0.02).to(dt)
    final_norm = torch.ones(H, device="cuda", dtype=dt)
    kcache = torch.randn(L, B, nkv, maxlen, hd, device="cuda", generator=g).to(dt)
    vcache = torch.randn(L, B, nkv, maxlen, hd, device="cuda", generator=g).to(dt)
    inv = 1.0 / theta ** (torch.arange(0, hd, 2, device="cuda").float() / hd)
    angles = torch.outer(torch.arange(maxlen, device="cuda").float(), inv)
    cos, sin = angles.cos().to(dt), angles.sin().to(dt)
    slots = torch.arange(maxlen, device="cuda")
    pos = torch.full((1,), a.prompt_len, device="cuda", dtype=torch.long)
    tokens = torch.randint(0, V, (B,), device="cuda", generator=g)

    def rms(x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(dt) * w

    def rope(x):  # [B, heads, hd] at position pos
        c, s = cos.index_select(0, pos), sin.index_select(0, pos)
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return torch.cat((x1 * c - x2 * s, x2 * c + x1 * s), -1)

    def step():
        x = embed.index_select(0, tokens)
        masked = (slots > pos).view(1, 1, 1, maxlen)
        for li, l in enumerate(layers):
            q, k, v = l["qkv"](rms(x, l["n1"])).split(
                (nh * hd, nkv * hd, nkv * hd), -1)
            q = rope(q.view(B, nh, hd))
            k = rope(k.view(B, nkv, hd))
            kcache[li].index_copy_(2, pos, k.unsqueeze(2))
            vcache[li].index_copy_(2, pos, v.view(B, nkv, 1, hd))
            keys = kcache[li].repeat_interleave(nh // nkv, 1)
            values = vcache[li].repeat_interleave(nh // nkv, 1)
            scores = (q.unsqueeze(2) @ keys.transpose(-1, -2)).float() * hd ** -0.5
            probs = scores.masked_fill(masked, float("-inf")).softmax(-1).to(dt)
            x = x + l["o"]((probs @ values).reshape(B, nh * hd))
            gate, up = l["gate_up"](rms(x, l["n2"])).split((I, I), -1)
            x = x + l["down"](torch.nn.functional.silu(gate) * up)
        logits = rms(x, final_norm) @ lm_head
        tokens.copy_(logits.argmax(-1))
        pos.add_(1)

    # Warm up on a side stream (cuBLAS / tinygemm workspaces), then capture.
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        step()
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    best = float("inf")
    for _ in range(a.repeat):
        pos.fill_(a.prompt_len)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.new_tokens):
            graph.replay()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    print(f"torch-graph {a.weights} batch {B} prompt {a.prompt_len}: decode "
          f"{B * a.new_tokens / best:.1f} tokens/s "
          f"({1e3 * best / a.new_tokens:.2f} ms/step)", flush=True)


if __name__ == "__main__":
    main()
