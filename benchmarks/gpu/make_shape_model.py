#!/usr/bin/env python3
"""A Llama-architecture model directory of a given shape whose weights are
all zero and take no disk: config.json and one safetensors file whose data
region is a sparse file. quant-compile --no-weights reads only its header,
so packages of 7B-shaped models are compiled here without 13 GB of weights;
fill_random_weights.py writes their weights on the GPU machine.

usage: make_shape_model.py OUT --hidden H --intermediate I --layers L
                           --heads A [--kv-heads KV] [--vocab V]
"""
import argparse
import json
import os
import struct


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--hidden", type=int, required=True)
    p.add_argument("--intermediate", type=int, required=True)
    p.add_argument("--layers", type=int, required=True)
    p.add_argument("--heads", type=int, required=True)
    p.add_argument("--kv-heads", type=int)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--max-positions", type=int, default=4096)
    a = p.parse_args()
    kv = a.kv_heads or a.heads
    hd = a.hidden // a.heads
    os.makedirs(a.out, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": a.vocab, "hidden_size": a.hidden,
        "intermediate_size": a.intermediate, "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads, "num_key_value_heads": kv,
        "hidden_act": "silu", "max_position_embeddings": a.max_positions,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
        "torch_dtype": "float16", "bos_token_id": 1, "eos_token_id": 2,
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    shapes = {"model.embed_tokens.weight": [a.vocab, a.hidden],
              "model.norm.weight": [a.hidden], "lm_head.weight": [a.vocab, a.hidden]}
    for i in range(a.layers):
        pre = f"model.layers.{i}."
        shapes.update({
            pre + "input_layernorm.weight": [a.hidden],
            pre + "post_attention_layernorm.weight": [a.hidden],
            pre + "self_attn.q_proj.weight": [a.heads * hd, a.hidden],
            pre + "self_attn.k_proj.weight": [kv * hd, a.hidden],
            pre + "self_attn.v_proj.weight": [kv * hd, a.hidden],
            pre + "self_attn.o_proj.weight": [a.hidden, a.heads * hd],
            pre + "mlp.gate_proj.weight": [a.intermediate, a.hidden],
            pre + "mlp.up_proj.weight": [a.intermediate, a.hidden],
            pre + "mlp.down_proj.weight": [a.hidden, a.intermediate],
        })
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 2
        for d in shape:
            size *= d
        header[name] = {"dtype": "F16", "shape": shape,
                        "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    path = os.path.join(a.out, "model.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        f.truncate(8 + len(blob) + offset)  # sparse: reads as zeros
    print(f"{a.out}: {len(shapes)} tensors, {offset / 2**30:.1f} GiB (sparse)")


if __name__ == "__main__":
    main()
