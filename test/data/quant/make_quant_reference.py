#!/usr/bin/env python3
"""Makes the reference data that QCQuant's gtests compare against.

An independent PyTorch implementation of the published algorithms:
  * AutoAWQ: pseudo_quantize_tensor, WQLinear_GEMM/GEMV.from_linear packing,
    unpack_awq/reverse_awq_order/dequantize_gemm; llm-awq's WQLinear with
    pack_intweight; the AWQ scale search (auto_scale) and clip search
    (auto_clip) for a single linear layer.
  * bitsandbytes: quantize_4bit / dequantize_4bit (NF4, FP4, as the CUDA
    kernels compute them), double quantization with quantize_blockwise over
    create_dynamic_map(signed=True), QuantState.as_dict(packed=True)
    serialization, Int8Params row-wise quantization and the MatMul8bitLt
    inference path (sparse decomposition of outlier columns).
  * W8A8: per-channel weight / per-token activation symmetric int8.

Run on the GPU machine (torch >= 2.0, numpy):
    python3 make_quant_reference.py OUT_DIR
Writes awq_reference.safetensors, bnb4_reference.safetensors,
int8_reference.safetensors and awq_search_reference.safetensors (safetensors
written by hand, so the `safetensors` package is not needed), plus
reference_log.json with the environment and the self-checks.
"""

import importlib.util
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DEV = "cuda" if torch.cuda.is_available() else "cpu"
LOG = {"torch": torch.__version__, "device": DEV, "checks": {}}


def check(name, ok):
    LOG["checks"][name] = bool(ok)
    if not ok:
        print("CHECK FAILED:", name, file=sys.stderr)


# --- safetensors writer ------------------------------------------------------

ST_DTYPES = {
    torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32",
    torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
}


def save_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        dtype = ST_DTYPES[t.dtype]
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16
            t = t.view(torch.int16)
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    hdr = json.dumps(header).encode()
    hdr += b" " * ((8 - len(hdr) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for b in blobs:
            f.write(b)


def to_int32_wrapped(x):
    """int64 holding 32 packed bits -> int32 with the same bits."""
    x = x & 0xFFFFFFFF
    return torch.where(x >= 2**31, x - 2**32, x).to(torch.int32)


# --- AutoAWQ -----------------------------------------------------------------

def pseudo_quantize_tensor(w, group_size, w_bit=4):
    """AutoAWQ AwqQuantizer.pseudo_quantize_tensor, zero_point=True."""
    org_w_shape = w.shape
    w = w.reshape(-1, group_size)
    assert torch.isnan(w).sum() == 0
    max_val = w.amax(dim=1, keepdim=True)
    min_val = w.amin(dim=1, keepdim=True)
    max_int = 2**w_bit - 1
    min_int = 0
    scales = (max_val - min_val).clamp(min=1e-5) / max_int
    zeros = (-torch.round(min_val / scales)).clamp_(min_int, max_int)
    w = (torch.clamp(torch.round(w / scales) + zeros, min_int, max_int)
         - zeros) * scales
    zeros = zeros.view(org_w_shape[0], -1)
    scales = scales.view(org_w_shape[0], -1)
    return w.reshape(org_w_shape), scales, zeros


def awq_intweight(weight, scales, zeros, group_size):
    """The integer weights from_linear recomputes: [N, K] int32."""
    scale_zeros = zeros * scales
    cols = []
    for idx in range(weight.shape[1]):
        g = idx // group_size
        cols.append(torch.round((weight[:, idx] + scale_zeros[:, g])
                                / scales[:, g]).to(torch.int)[:, None])
    return torch.cat(cols, dim=1).to(torch.int32)


def awq_gemm_from_linear(weight, scales, zeros, group_size):
    """WQLinear_GEMM.from_linear with scales/zeros given as [N, K/G]."""
    scales_t = scales.t().contiguous()
    zeros_t = zeros.t().contiguous()
    intweight = awq_intweight(weight, scales, zeros, group_size)
    intweight = intweight.t().contiguous().to(torch.int64)  # [K, N]
    order_map = [0, 2, 4, 6, 1, 3, 5, 7]
    k, n = intweight.shape
    qweight = torch.zeros((k, n // 8), dtype=torch.int64, device=weight.device)
    for col in range(n // 8):
        for i in range(8):
            qweight[:, col] |= intweight[:, col * 8 + order_map[i]] << (i * 4)
    zi = zeros_t.to(torch.int64)
    qzeros = torch.zeros((zi.shape[0], n // 8), dtype=torch.int64,
                         device=weight.device)
    for col in range(n // 8):
        for i in range(8):
            qzeros[:, col] |= zi[:, col * 8 + order_map[i]] << (i * 4)
    return (to_int32_wrapped(qweight), to_int32_wrapped(qzeros),
            scales_t.clone().half())


AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7]


def unpack_awq(qweight, qzeros, bits=4):
    shifts = torch.arange(0, 32, bits, device=qzeros.device)
    iweights = torch.bitwise_right_shift(qweight[:, :, None],
                                         shifts[None, None, :]).to(torch.int8)
    iweights = iweights.view(iweights.shape[0], -1)
    izeros = torch.bitwise_right_shift(qzeros[:, :, None],
                                       shifts[None, None, :]).to(torch.int8)
    izeros = izeros.view(izeros.shape[0], -1)
    return iweights, izeros


def dequantize_gemm(qweight, qzeros, scales, bits, group_size):
    iweight, izeros = unpack_awq(qweight, qzeros, bits)
    order = torch.arange(izeros.shape[-1], dtype=torch.int32,
                         device=izeros.device).view(-1, 32 // bits)
    order = order[:, AWQ_REVERSE_ORDER].view(-1).long()
    izeros, iweight = izeros[:, order], iweight[:, order]
    iweight = torch.bitwise_and(iweight, 2**bits - 1)
    izeros = torch.bitwise_and(izeros, 2**bits - 1)
    scales = scales.repeat_interleave(group_size, dim=0)
    izeros = izeros.repeat_interleave(group_size, dim=0)
    return (iweight - izeros) * scales


def calculate_zeros_width(in_features, group_size=128, pack_num=8):
    if group_size >= 128:
        size_multiplier = 1
    elif group_size == 64:
        size_multiplier = 2
    elif group_size == 32:
        size_multiplier = 4
    else:
        raise NotImplementedError
    base_width = (in_features // group_size + pack_num - 1) // pack_num
    base_width = (base_width + size_multiplier - 1) // size_multiplier
    return base_width * size_multiplier


def awq_gemv_from_linear(weight, scales, zeros, group_size):
    """WQLinear_GEMV.from_linear (AutoAWQ)."""
    n, k = weight.shape
    zw = calculate_zeros_width(k, group_size)
    qscales = torch.zeros((n, zw * 8), dtype=torch.float16,
                          device=scales.device)
    qscales[:, :scales.shape[1]] = scales
    intweight = awq_intweight(weight, qscales[:, :scales.shape[1]], zeros,
                              group_size).to(torch.int64)
    qweight = torch.zeros((n, k // 8), dtype=torch.int64, device=weight.device)
    for col in range(k // 8):
        for i in range(8):
            qweight[:, col] |= intweight[:, col * 8 + i] << (i * 4)
    zi = zeros.to(torch.int64)
    qzeros = torch.zeros((n, zw), dtype=torch.int64, device=weight.device)
    for col in range((zi.shape[1] + 7) // 8):
        for i in range(8):
            if col * 8 + i >= zi.shape[1]:
                continue
            qzeros[:, col] |= zi[:, col * 8 + i] << (i * 4)
    return to_int32_wrapped(qweight), to_int32_wrapped(qzeros), qscales


def pack_intweight(unpacked_qweight, interleave, kstride):
    """llm-awq awq/quantize/qmodule.py pack_intweight (numpy)."""
    N, K = unpacked_qweight.shape
    P = unpacked_qweight.cpu().numpy().reshape(N, K // 32, 32)
    P = P.reshape(N, K // 32, 4, 4, 2).transpose(0, 1, 3, 2, 4)
    P = P.reshape(N, K // 32, 32)
    P = P.reshape(N, K // 32, 4, 8)
    P = P.reshape(N, K // 32, 4, 4, 2).transpose(0, 1, 2, 4, 3)
    P = P.reshape(N, K)
    P = P.reshape(N // interleave, interleave, K // kstride, kstride)
    P = P.transpose(0, 2, 1, 3)
    P = P.reshape(N // interleave, K // kstride, kstride, interleave)
    P = P[..., 0] | (P[..., 1] << 4) | (P[..., 2] << 8) | (P[..., 3] << 12)
    P = P.reshape(N // interleave, K)
    return torch.tensor(P.astype("int16")).contiguous()


def llm_awq_from_linear(weight, scales, zeros, group_size):
    """llm-awq WQLinear.from_linear (TinyChat layout)."""
    n, k = weight.shape
    zw = calculate_zeros_width(k, group_size)
    qscales = torch.zeros((n, zw * 8), dtype=torch.float16,
                          device=scales.device)
    qscales[:, :scales.shape[1]] = scales
    intweight = awq_intweight(weight, qscales[:, :scales.shape[1]], zeros,
                              group_size)
    qweight = pack_intweight(intweight.contiguous(), interleave=4, kstride=64)
    scaled_zeros = torch.zeros_like(qscales)
    scaled_zeros[:, :scales.shape[1]] = -(
        qscales[:, :scales.shape[1]] * zeros.to(torch.int32).to(torch.float32)
    ).to(torch.float16)
    return (qweight, qscales.transpose(1, 0).contiguous(),
            scaled_zeros.transpose(1, 0).contiguous())


def make_awq_weight(gen, n, k, g):
    w = torch.randn((n, k), generator=gen) * 0.02
    # Outliers in a few places.
    idx = torch.randint(0, n * k, (n * k // 200,), generator=gen)
    w.view(-1)[idx] *= 40.0
    # Degenerate and tie-making groups in group 0 of the first rows.
    w[0, :g] = 0.0                       # all zero
    w[1, :g] = 0.5                       # constant: w / scale overflows fp16
    w[2, :g] = -0.003                    # small constant
    s0 = 2.0**-6                         # exact fp16 scale: range = 15 * s0
    ties = torch.tensor([0.0, 15.0, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5])
    w[3, :g] = (ties.repeat(g // 8) * s0)
    w[4, :g] = ((ties - 2.5).repeat(g // 8) * s0)  # min/scale = -2.5
    return w.half()


def awq_cases(out_dir, gen):
    tensors = {}
    for g in (32, 64, 128):
        n, k = 64, 256
        w = make_awq_weight(gen, n, k, g)
        wdq, scales, zeros = pseudo_quantize_tensor(w.to(DEV), g)
        wdq_cpu, scales_cpu, zeros_cpu = pseudo_quantize_tensor(w, g)
        check(f"awq_g{g}_gpu_equals_cpu",
              torch.equal(wdq.cpu(), wdq_cpu) and
              torch.equal(scales.cpu(), scales_cpu) and
              torch.equal(zeros.cpu(), zeros_cpu))
        # The codes pseudo_quantize_tensor made (before "- zeros").
        q = torch.clamp(torch.round(w.to(DEV).reshape(-1, g) /
                                    scales.reshape(-1, 1))
                        + zeros.reshape(-1, 1), 0, 15).reshape(n, k)
        intw = awq_intweight(wdq, scales, zeros, g)
        check(f"awq_g{g}_from_linear_codes_equal_pseudo_codes",
              torch.equal(intw.cpu(), q.to(torch.int32).cpu()))
        qweight, qzeros, gscales = awq_gemm_from_linear(wdq, scales, zeros, g)
        deq = dequantize_gemm(qweight, qzeros, gscales, 4, g)  # [K, N]
        check(f"awq_g{g}_dequantize_gemm_equals_pseudo",
              torch.equal(deq.t().cpu(), wdq.cpu()))
        gv_qweight, gv_qzeros, gv_scales = awq_gemv_from_linear(
            wdq, scales, zeros, g)
        la_qweight, la_scales, la_szeros = llm_awq_from_linear(
            wdq, scales, zeros, g)
        p = f"g{g}."
        tensors.update({
            p + "weight": w, p + "wdq": wdq, p + "scales_nk": scales,
            p + "zeros_nk": zeros, p + "q": q.to(torch.uint8),
            p + "qweight": qweight, p + "qzeros": qzeros,
            p + "scales": gscales,
            p + "gemv.qweight": gv_qweight, p + "gemv.qzeros": gv_qzeros,
            p + "gemv.scales": gv_scales,
            p + "llmawq.qweight": la_qweight, p + "llmawq.scales": la_scales,
            p + "llmawq.scaled_zeros": la_szeros,
        })
    save_safetensors(os.path.join(out_dir, "awq_reference.safetensors"),
                     tensors, {"generator": "make_quant_reference.py"})


# --- bitsandbytes 4-bit ------------------------------------------------------

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
       -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
       0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
       0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]
FP4 = [0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0,
       -0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0]
# csrc/kernels.cu fp4_dequantization_lut (magnitudes; sign from bit 3).
FP4_LUT = [0.0, 0.005208333333, 0.66666667, 1.0, 0.33333333, 0.5,
           0.16666667, 0.25]


def get_4bit_type(typename, device="cpu"):
    data = torch.tensor(NF4 if typename == "nf4" else FP4, device=device)
    data.div_(data.abs().max())
    return data


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    """bitsandbytes.functional.create_dynamic_map."""
    data = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1
                             if signed else
                             2 ** (i + non_sign_bits - max_exponent_bits + 1)
                             + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    if additional_items > 0:
        boundaries = torch.linspace(0.1, 1, additional_items + 1)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    assert len(data) == 2**total_bits
    data.sort()
    return torch.tensor(data)


# The comparison trees of csrc/kernels.cu (dQuantizeNF4 / dQuantizeFP4) as
# sorted thresholds: a value gets the code of the interval it falls in, the
# lower one when it equals a threshold ("x > t" in the kernel).
NF4_THRESHOLDS = [
    -0.8480964004993439, -0.6106329262256622, -0.4599952697753906,
    -0.33967943489551544, -0.23460740596055984, -0.13791173323988914,
    -0.045525018125772476, 0.03979014977812767, 0.1202552504837513,
    0.2035212516784668, 0.2920137718319893, 0.3893125355243683,
    0.5016634166240692, 0.6427869200706482, 0.8614784181118011]
FP4_THRESHOLDS = [0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667,
                  0.583333, 0.8333333]
FP4_CODE_OF_RANK = [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011]


def kernel_code(x, quant_type):
    dev = x.device
    if quant_type == "nf4":
        th = torch.tensor(NF4_THRESHOLDS, device=dev)
        codes = torch.searchsorted(th, x.contiguous(), right=False)
    else:
        th = torch.tensor(FP4_THRESHOLDS, device=dev)
        rank = torch.searchsorted(th, x.abs().contiguous(), right=False)
        codes = torch.tensor(FP4_CODE_OF_RANK, device=dev)[rank] + 8 * (x < 0)
    return torch.where(torch.isnan(x), 0, codes)  # all comparisons false


def nearest_code(x, code):
    """Index of the nearest code value (first on ties), as torch.argmin."""
    return torch.argmin((x.reshape(-1, 1) - code.reshape(1, -1)).abs(), dim=1)


def blockwise_absmax(flat, blocksize):
    n = flat.numel()
    nb = (n + blocksize - 1) // blocksize
    padded = torch.zeros(nb * blocksize, dtype=torch.float32,
                         device=flat.device)
    padded[:n] = flat.float()
    blocks = padded.view(nb, blocksize)
    return blocks, blocks.abs().amax(dim=1)


def quantize_4bit(A, blocksize, quant_type):
    """kQuantizeBlockwise (NF4/FP4): x * (1 / absmax), nearest code; the
    odd tail element is padded with 0.0 as the kernel's BlockLoad does."""
    flat = A.reshape(-1)
    n = flat.numel()
    blocks, absmax = blockwise_absmax(flat, blocksize)
    scaled = (blocks * (1.0 / absmax).view(-1, 1)).reshape(-1)
    codes = kernel_code(scaled, quant_type)
    # bitsandbytes' PyTorch backend picks the nearest code by argmin instead;
    # count where that differs (exact ties at the kernel's float thresholds).
    if quant_type == "nf4":
        nearest = nearest_code(scaled, get_4bit_type("nf4", scaled.device))
    else:
        mags = get_4bit_type("fp4", scaled.device)[:8]
        nearest = nearest_code(scaled.abs(), mags) + 8 * (scaled < 0)
    key = f"{quant_type}_codes_kernel_vs_argmin_differ"
    LOG[key] = LOG.get(key, 0) + int((nearest[:n] != codes[:n]).sum())
    codes = codes[: n + (n % 2)].to(torch.uint8)
    packed = (codes[0::2] << 4) | codes[1::2]
    return packed.view(-1, 1), absmax


def quantize_blockwise_dynamic(A, blocksize=256):
    code = create_dynamic_map().to(A.device)
    blocks, absmax = blockwise_absmax(A.reshape(-1), blocksize)
    scaled = (blocks * (1.0 / absmax).view(-1, 1)).reshape(-1)[: A.numel()]
    return nearest_code(scaled, code).to(torch.uint8), absmax, code


def dequantize_4bit(packed, absmax, n, quant_type, dtype, blocksize):
    codes = torch.stack([packed.view(-1) >> 4, packed.view(-1) & 0xF],
                        dim=1).reshape(-1)[:n].long()
    if quant_type == "nf4":
        lut = torch.tensor(NF4, device=packed.device)
        vals = lut[codes]
    else:
        lut = torch.tensor(FP4_LUT, device=packed.device)
        vals = lut[codes & 7] * (1.0 - 2.0 * (codes >> 3).float())
    scale = absmax.repeat_interleave(blocksize)[:n]
    return (vals * scale).to(dtype)


def bnb4_variant(tensors, prefix, w, blocksize, quant_type, nested):
    n = w.numel()
    packed, absmax = quantize_4bit(w.to(DEV), blocksize, quant_type)
    state = {"quant_type": quant_type, "blocksize": blocksize,
             "dtype": str(w.dtype).replace("torch.", ""),
             "shape": list(w.shape)}
    t = {prefix + ".weight": packed,
         prefix + ".weight.quant_map": get_4bit_type(quant_type)}
    if nested:
        # bitsandbytes takes the fp32 mean on the device; the reference takes
        # it in float64 and rounds once, so it is reproducible bit for bit.
        offset = absmax.double().mean().float()
        key = "nested_offsets_where_fp32_mean_differs"
        LOG[key] = LOG.get(key, 0) + int(absmax.mean() != offset)
        qabsmax, absmax2, code = quantize_blockwise_dynamic(absmax - offset)
        rec = code[qabsmax.long()] * absmax2.repeat_interleave(256)[
            : absmax.numel()]
        rec = rec + offset
        t[prefix + ".weight.absmax"] = qabsmax
        t[prefix + ".weight.nested_absmax"] = absmax2
        t[prefix + ".weight.nested_quant_map"] = code.clone()
        state.update({"nested_blocksize": 256, "nested_dtype": "float32",
                      "nested_offset": offset.item()})
        t[prefix + ".ref.absmax_dequantized"] = rec
        used_absmax = rec
    else:
        t[prefix + ".weight.absmax"] = absmax
        used_absmax = absmax
    blob = json.dumps(state).encode("utf-8")
    t[prefix + ".weight.quant_state.bitsandbytes__" + quant_type] = \
        torch.tensor(list(blob), dtype=torch.uint8)
    t[prefix + ".ref.dequantized"] = dequantize_4bit(
        packed, used_absmax, n, quant_type, w.dtype, blocksize).view(w.shape)
    t[prefix + ".ref.input"] = w
    tensors.update(t)


def bnb4_cases(out_dir, gen):
    tensors = {}
    code = create_dynamic_map()
    tensors["dynamic_map"] = code
    fp4_from_type = get_4bit_type("fp4")[:8]
    check("fp4_lut_equals_get_4bit_type",
          torch.equal(fp4_from_type, torch.tensor(FP4_LUT)))
    w16 = (torch.randn((96, 256), generator=gen) * 0.05)
    w16.view(-1)[torch.randint(0, w16.numel(), (40,), generator=gen)] *= 30
    w16[5, :64] = 0.0                    # an all-zero block
    w16 = w16.half()
    wbf = (torch.randn((96, 256), generator=gen) * 0.05).bfloat16()
    wodd = (torch.randn((33, 37), generator=gen) * 0.1).half()
    for qt in ("nf4", "fp4"):
        for nested in (False, True):
            tag = f"{qt}.{'nested' if nested else 'plain'}"
            bnb4_variant(tensors, f"f16.{tag}", w16, 64, qt, nested)
            bnb4_variant(tensors, f"odd.{tag}", wodd, 64, qt, nested)
        bnb4_variant(tensors, f"bf16.{qt}.nested", wbf, 64, qt, True)
    bnb4_variant(tensors, "f16.nf4.bs128", w16, 128, "nf4", False)
    save_safetensors(os.path.join(out_dir, "bnb4_reference.safetensors"),
                     tensors, {"generator": "make_quant_reference.py"})


# --- int8 --------------------------------------------------------------------

def int8_cases(out_dir, gen):
    n, k, t = 64, 256, 16
    w = (torch.randn((n, k), generator=gen) * 0.05)
    w.view(-1)[torch.randint(0, n * k, (30,), generator=gen)] *= 20
    w_wo = w.clone()
    w_wo[7] = 0.0                        # zero row: scale 0, codes 0
    w = w.half()
    w_wo = w_wo.half()
    # (a) weight-only per-channel symmetric int8 (on the CPU: true division).
    wf = w_wo.float()
    scale = wf.abs().amax(dim=1) / 127.0
    q = torch.where(scale.view(-1, 1) == 0, torch.zeros_like(wf),
                    torch.clamp(torch.round(wf / scale.view(-1, 1)),
                                -127, 127)).to(torch.int8)
    # (b) LLM.int8 weights: Int8Params / int8_vectorwise_quant.
    scb = w.abs().amax(dim=1).float()
    cb = torch.round(w * (127.0 / scb.unsqueeze(-1))).to(torch.int8)
    # Activations with outlier columns (|x| >= 6), one exactly 6.0.
    x = torch.randn((t, k), generator=gen)
    for col, rows in ((3, [0, 5]), (77, [2]), (200, [1, 9, 15])):
        x[rows, col] = torch.tensor([8.5, -11.0, 20.0][: len(rows)])
    x[4, 150] = 6.0
    x[6, 5] = -5.99                      # below the threshold
    x = x.half()
    threshold = 6.0
    outliers = x.abs() >= threshold
    cols = torch.argwhere(outliers.any(dim=0)).view(-1)
    xz = x.clone()
    xz[outliers] = 0
    row_stats = xz.abs().amax(dim=1).float()
    ca = torch.round(xz * (127.0 / row_stats.unsqueeze(-1))).to(torch.int8)
    ca[:, cols] = 0
    acc = (ca.long() @ cb.long().t()).to(torch.int32)
    out = (acc.float() * (row_stats.view(-1, 1) * scb.view(1, -1))
           * 6.200124e-05).to(torch.float16)
    sub_a = x[:, cols]
    sub_b = (cb[:, cols].float() * scb.view(-1, 1)
             * 7.874015718698502e-3).to(torch.float16).t()
    y_gpu = out.to(DEV).addmm(sub_a.to(DEV), sub_b.to(DEV)).cpu()
    y_exact = (out.double() + sub_a.double() @ sub_b.double()).to(
        torch.float16)
    # (c) W8A8: per-token activation scales, per-channel weight scales.
    xa = torch.randn((t, k), generator=gen) * 2.0
    sx = xa.abs().amax(dim=1) / 127.0
    qx = torch.clamp(torch.round(xa / sx.view(-1, 1)), -127, 127).to(
        torch.int8)
    sw = w.float().abs().amax(dim=1) / 127.0
    qw = torch.clamp(torch.round(w.float() / sw.view(-1, 1)), -127,
                     127).to(torch.int8)
    acc8 = (qx.long() @ qw.long().t()).to(torch.int32)
    y8 = acc8.float() * (sx.view(-1, 1) * sw.view(1, -1))
    tensors = {
        "wo.input": w_wo, "wo.q": q, "wo.scale": scale,
        "llm.input": w, "llm.x": x, "llm.outlier_cols": cols,
        "llm.row_stats": row_stats, "llm.ca": ca, "llm.y_gpu": y_gpu,
        "llm.y_exact": y_exact,
        "model.layers.0.mlp.down_proj.weight": cb,
        "model.layers.0.mlp.down_proj.SCB": scb,
        "model.layers.0.mlp.down_proj.weight_format":
            torch.tensor(0, dtype=torch.uint8),
        "w8a8.x": xa, "w8a8.sx": sx, "w8a8.qx": qx, "w8a8.sw": sw,
        "w8a8.qw": qw, "w8a8.y": y8,
    }
    save_safetensors(os.path.join(out_dir, "int8_reference.safetensors"),
                     tensors, {"generator": "make_quant_reference.py"})


# --- AWQ search --------------------------------------------------------------

def rtn_fake_quant(w16, g):
    return pseudo_quantize_tensor(w16, g)[0]


def awq_search(w16, x, g, n_grid=20, max_shrink=0.5, n_sample_token=512):
    """auto_scale + auto_clip for one linear layer, losses in float64."""
    w = w16.float()
    org = x.double() @ w.double().t()
    x_mean = x.abs().double().mean(dim=0).float()
    col_max = w.abs().amax(dim=0)
    losses, best, best_scales = [], None, None
    for ratio in range(n_grid):
        ratio = ratio / n_grid
        s = x_mean.pow(ratio).clamp(min=1e-4)
        s = s / (s.max() * s.min()).sqrt()
        s = torch.minimum(s, 65504.0 / col_max)   # keep W * s finite in fp16
        ws = (w * s.view(1, -1)).half()
        wq = rtn_fake_quant(ws, g).float() / s.view(1, -1)
        loss = ((x.double() @ wq.double().t() - org) ** 2).mean().item()
        losses.append(loss)
        if best is None or loss < losses[best]:
            best, best_scales = len(losses) - 1, s
    s = best_scales
    ws = (w * s.view(1, -1)).half()
    xs = x / s.view(1, -1)
    # auto_clip on the scaled weight and input.
    n, k = ws.shape
    step = max(1, xs.shape[0] // n_sample_token)
    xf = xs[::step].double().reshape(1, -1, k // g, g)
    wg = ws.float().reshape(n, 1, k // g, g)
    org_max = ws.reshape(n, 1, k // g, g).abs().amax(dim=-1, keepdim=True)
    org_out = (xf * wg.double()).sum(dim=-1)
    best_max = org_max.clone()
    min_errs = torch.full(org_max.shape, math.inf, dtype=torch.float64)
    for i_s in range(int(max_shrink * n_grid)):
        max_val = (org_max.float() * (1 - i_s / n_grid)).half()
        cur = torch.clamp(ws.reshape(n, 1, k // g, g), -max_val, max_val)
        qw = rtn_fake_quant(cur.reshape(n, k), g).reshape(n, 1, k // g, g)
        cur_out = (xf * qw.double()).sum(dim=-1)
        err = (cur_out - org_out).pow(2).mean(dim=1).view(min_errs.shape)
        better = err < min_errs
        min_errs[better] = err[better]
        best_max[better] = max_val[better]
    clipped = torch.clamp(ws.reshape(n, 1, k // g, g), -best_max, best_max)
    clipped = clipped.reshape(n, k)
    wdq, scales, zeros = pseudo_quantize_tensor(clipped, g)
    final = (x.double() @ (wdq.double() / s.double().view(1, -1)).t()
             - org).pow(2).mean().item()
    return dict(losses=torch.tensor(losses, dtype=torch.float64),
                best_ratio=torch.tensor(best, dtype=torch.int32),
                scales=s, clip_max=best_max.reshape(n, k // g),
                clipped=clipped, wdq=wdq, scales_nk=scales, zeros_nk=zeros,
                final_loss=torch.tensor(final, dtype=torch.float64),
                rtn_loss=torch.tensor(losses[0], dtype=torch.float64))


def awq_search_case(out_dir, gen):
    n, k, g, t = 64, 128, 32, 1100
    w = (torch.randn((n, k), generator=gen) * 0.03).half()
    x = torch.randn((t, k), generator=gen)
    for ch, mult in ((5, 25.0), (17, 12.0), (100, 40.0)):
        x[:, ch] *= mult
    x = x.half()                         # stored as fp16, used as fp32
    r = awq_search(w, x.float(), g)
    tensors = {"weight": w, "x": x}
    tensors.update({k2: v for k2, v in r.items()})
    LOG["awq_search"] = {"best_ratio": int(r["best_ratio"]),
                         "rtn_loss": float(r["rtn_loss"]),
                         "search_loss": float(r["losses"][r["best_ratio"]]),
                         "final_loss": float(r["final_loss"])}
    save_safetensors(os.path.join(out_dir, "awq_search_reference.safetensors"),
                     tensors, {"generator": "make_quant_reference.py"})


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out_dir, exist_ok=True)
    if DEV == "cuda":
        LOG["gpu"] = torch.cuda.get_device_name(0)
    for pkg in ("bitsandbytes", "awq", "autoawq"):
        LOG["has_" + pkg] = importlib.util.find_spec(pkg) is not None
    torch.backends.cuda.matmul.allow_tf32 = False
    gen = torch.Generator().manual_seed(20241124)
    awq_cases(out_dir, gen)
    bnb4_cases(out_dir, gen)
    int8_cases(out_dir, gen)
    awq_search_case(out_dir, gen)
    with open(os.path.join(out_dir, "reference_log.json"), "w") as f:
        json.dump(LOG, f, indent=1, sort_keys=True)
    print(json.dumps(LOG, indent=1, sort_keys=True))
    return 0 if all(LOG["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
