#!/usr/bin/env python3
"""Train quantc's embedded default model, models/quantc-tiny-llama, from scratch.

Runs on a CUDA machine (see scripts/device/make_models.sh and models/README.md):

    python3 models/train_tiny_llama.py --corpus models/corpus --out models/quantc-tiny-llama

Steps:
  1. reads the corpus written by models/collect_corpus.sh (documents separated by a
     line holding exactly "<|endoftext|>"), cuts it into ~4 KB chunks at paragraph
     boundaries and holds out every 50th chunk;
  2. trains a byte-level BPE tokenizer (vocab 2048; ids 0 = <|endoftext|> (eos),
     1 = <|begin_of_text|> (bos), which the tokenizer prepends) on the training
     chunks and saves it as a PreTrainedTokenizerFast (tokenizer.json +
     tokenizer_config.json);
  3. trains a 4-layer LlamaForCausalLM (hidden 256, GQA 8/4 heads of 32) with
     AdamW, fp32 weights and bf16 autocast, on random 256-token windows of the
     token stream ([bos] chunk [eos] [bos] chunk [eos] ...);
  4. saves it in float16 with save_pretrained (safetensors), plus
     generation_config.json and TRAINING.md (command, hyperparameters, corpus,
     losses, versions, sample greedy continuations).

The number of steps is fixed by --steps; with --steps 0 (default) it is chosen from
a timed trial on a throw-away model so that training takes about --train-seconds,
and the number chosen is written to TRAINING.md (rerun with --steps N to repeat).
"""
import argparse
import copy
import hashlib
import json
import math
import os
import platform
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

EOS, BOS = "<|endoftext|>", "<|begin_of_text|>"
SEP = "\n<|endoftext|>\n"

p = argparse.ArgumentParser()
p.add_argument("--corpus", default="models/corpus")
p.add_argument("--out", default="models/quantc-tiny-llama")
p.add_argument("--seed", type=int, default=1234)
p.add_argument("--steps", type=int, default=0, help="0: choose from --train-seconds")
p.add_argument("--train-seconds", type=float, default=150.0)
p.add_argument("--min-steps", type=int, default=600)
p.add_argument("--max-steps", type=int, default=8000)
p.add_argument("--max-epochs", type=float, default=8.0,
               help="with --steps 0, at most this many passes over the training tokens "
                    "(a first run for 32 epochs overfitted from about epoch 10 on)")
p.add_argument("--batch", type=int, default=64)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--lr", type=float, default=2e-3)
p.add_argument("--min-lr-frac", type=float, default=0.1)
p.add_argument("--warmup", type=int, default=200)
p.add_argument("--wd", type=float, default=0.1)
p.add_argument("--clip", type=float, default=1.0)
p.add_argument("--eval-every", type=int, default=250)
p.add_argument("--heldout-every", type=int, default=50)
args = p.parse_args()

T0 = time.time()


def log(*a):
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


def seed_all(s):
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)
    torch.cuda.manual_seed_all(s)


assert torch.cuda.is_available(), "needs a GPU"
dev = torch.device("cuda")
seed_all(args.seed)
os.makedirs(args.out, exist_ok=True)

# ------------------------------------------------------------------ corpus
cats = sorted(f for f in os.listdir(args.corpus) if f.endswith(".txt") and f != "SUMMARY.txt")
docs = []
for f in cats:
    with open(os.path.join(args.corpus, f), encoding="utf-8") as fh:
        docs += [(f[:-4], d.strip("\n")) for d in fh.read().split(SEP) if d.strip()]
corpus_sha = hashlib.sha256()
for f in cats:
    with open(os.path.join(args.corpus, f), "rb") as fh:
        corpus_sha.update(fh.read())
corpus_bytes = sum(len(d.encode()) for _, d in docs)


def chunks_of(text, target=4096):
    out, cur, n = [], [], 0
    for par in text.split("\n\n"):
        cur.append(par)
        n += len(par) + 2
        if n >= target:
            out.append("\n\n".join(cur))
            cur, n = [], 0
    if cur:
        out.append("\n\n".join(cur))
    return out


chunks = [c for _, d in docs for c in chunks_of(d)]
train_chunks = [c for i, c in enumerate(chunks) if i % args.heldout_every != 0]
held_chunks = [c for i, c in enumerate(chunks) if i % args.heldout_every == 0]
log(f"corpus: {len(docs)} documents, {corpus_bytes} bytes, {len(chunks)} chunks "
    f"({len(train_chunks)} train / {len(held_chunks)} held out), sha256 {corpus_sha.hexdigest()[:16]}")

# ------------------------------------------------------------------ tokenizer
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=2048,
    min_frequency=2,
    special_tokens=[EOS, BOS],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
tok.train_from_iterator(train_chunks, trainer=trainer, length=len(train_chunks))
assert tok.token_to_id(EOS) == 0 and tok.token_to_id(BOS) == 1, "special token ids"
tok.post_processor = processors.TemplateProcessing(
    single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, 1)])
V = tok.get_vocab_size()
assert V == 2048, V
hf_tok = PreTrainedTokenizerFast(
    tokenizer_object=tok, bos_token=BOS, eos_token=EOS, add_bos_token=True, add_eos_token=False,
    model_max_length=512, clean_up_tokenization_spaces=False)
hf_tok.save_pretrained(args.out)
# Reload from disk and check it behaves as intended (bos prepended, ids round-trip).
hf_tok2 = transformers.AutoTokenizer.from_pretrained(args.out)
probe = "The quick brown fox, 3.14 \u00e9t\u00e9 -- naïve\n\tindent"
ids_a = hf_tok2(probe)["input_ids"]
ids_b = tok.encode(probe).ids
warnings = []
if ids_a != ids_b:
    warnings.append(f"reloaded tokenizer ids differ from the tokenizers object: {ids_a} vs {ids_b}")
if not (ids_a[0] == 1 and ids_a[1] != 1):
    warnings.append(f"reloaded tokenizer does not prepend exactly one bos: {ids_a}")
if hf_tok2.decode(ids_a, skip_special_tokens=True) != probe:
    warnings.append(f"decode does not round-trip: {hf_tok2.decode(ids_a, skip_special_tokens=True)!r}")
for w in warnings:
    log("WARNING:", w)
log(f"tokenizer: vocab {V}, probe -> {len(ids_a)} ids {ids_a}; reloaded class {type(hf_tok2).__name__}")


def encode_stream(texts):
    encs = tok.encode_batch(texts)  # each starts with bos
    out = []
    for e in encs:
        out.extend(e.ids)
        out.append(0)  # eos
    return torch.tensor(out, dtype=torch.int64)


train_ids = encode_stream(train_chunks)
held_ids = encode_stream(held_chunks)
log(f"tokens: train {train_ids.numel()}, held out {held_ids.numel()} "
    f"({corpus_bytes / (train_ids.numel() + held_ids.numel()):.2f} bytes/token)")
train_ids = train_ids.to(dev)
held_ids = held_ids.to(dev)

# ------------------------------------------------------------------ model
cfg_kwargs = dict(
    vocab_size=V, hidden_size=256, intermediate_size=768, num_hidden_layers=4,
    num_attention_heads=8, num_key_value_heads=4, head_dim=32, hidden_act="silu",
    max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=False,
    attention_bias=False, mlp_bias=False, attention_dropout=0.0, initializer_range=0.02,
    bos_token_id=1, eos_token_id=0, pad_token_id=None, use_cache=True,
)
if int(transformers.__version__.split(".")[0]) >= 5:
    cfg_kwargs["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0}
else:
    cfg_kwargs["rope_theta"] = 10000.0
config = LlamaConfig(**cfg_kwargs)


def new_model():
    seed_all(args.seed)
    m = LlamaForCausalLM(config)  # transformers' default init; sdpa attention where available
    return m.to(device=dev, dtype=torch.float32).train()


S, B = args.seq, args.batch
ar = torch.arange(S + 1, device=dev)


def batch_from(stream, gen, b):
    starts = torch.randint(0, stream.numel() - S - 1, (b,), device=dev, generator=gen)
    x = stream[starts[:, None] + ar]
    return x[:, :-1], x[:, 1:]


def loss_of(model, inp, tgt):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(input_ids=inp, use_cache=False).logits
    return F.cross_entropy(logits.float().reshape(-1, V), tgt.reshape(-1))


def make_opt(model):
    decay = [p_ for n, p_ in model.named_parameters() if p_.dim() >= 2]
    nodecay = [p_ for n, p_ in model.named_parameters() if p_.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.wd}, {"params": nodecay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)


def train_step(model, opt, inp, tgt, lr):
    for g in opt.param_groups:
        g["lr"] = lr
    loss = loss_of(model, inp, tgt)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
    opt.step()
    return loss


# Fixed held-out set: 32 windows x 256 tokens, drawn once.
eval_gen = torch.Generator(device=dev)
eval_gen.manual_seed(args.seed + 7)
held_batches = [batch_from(held_ids, eval_gen, 32) for _ in range(4)]
train_eval_batches = [batch_from(train_ids, eval_gen, 32) for _ in range(4)]


@torch.no_grad()
def evaluate(model, batches):
    model.eval()
    ls = [loss_of(model, i, t).item() for i, t in batches]
    model.train()
    return sum(ls) / len(ls)


n_params = sum(p_.numel() for p_ in new_model().parameters())
steps = args.steps
if steps <= 0:
    trial = new_model()
    topt = make_opt(trial)
    tgen = torch.Generator(device=dev)
    tgen.manual_seed(999)
    for i in range(40):
        if i == 10:
            torch.cuda.synchronize()
            t = time.time()
        inp, tgt = batch_from(train_ids, tgen, B)
        train_step(trial, topt, inp, tgt, 1e-4)
    torch.cuda.synchronize()
    per = (time.time() - t) / 30
    by_time = args.train_seconds / per
    by_data = args.max_epochs * train_ids.numel() / (B * S)
    steps = int(min(args.max_steps, max(args.min_steps, min(by_time, by_data))))
    steps = (steps // 100) * 100
    log(f"timed trial: {per * 1000:.1f} ms/step; {by_time:.0f} steps fit in {args.train_seconds:.0f} s, "
        f"{by_data:.0f} steps make {args.max_epochs} epochs -> {steps} steps")
    del trial, topt

model = new_model()
opt = make_opt(model)
gen = torch.Generator(device=dev)
gen.manual_seed(args.seed)


def lr_at(s):
    if s < args.warmup:
        return args.lr * (s + 1) / args.warmup
    prog = (s - args.warmup) / max(1, steps - args.warmup)
    return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * prog)))


curve = []
best = (float("inf"), 0, None)  # held-out loss, step, state dict: the checkpoint kept
l0 = evaluate(model, held_batches)
curve.append((0, float("nan"), l0))
log(f"attention implementation during training: {model.config._attn_implementation}")
log(f"params {n_params}, initial held-out loss {l0:.4f} (ln V = {math.log(V):.4f})")
t_train = time.time()
run_loss = None
for s in range(steps):
    inp, tgt = batch_from(train_ids, gen, B)
    loss = train_step(model, opt, inp, tgt, lr_at(s))
    if (s + 1) % args.eval_every == 0 or s + 1 == steps:
        lt = loss.item()
        lh = evaluate(model, held_batches)
        curve.append((s + 1, lt, lh))
        if lh < best[0]:
            best = (lh, s + 1, {k: v.detach().clone() for k, v in model.state_dict().items()})
        log(f"step {s + 1:5d}/{steps} lr {lr_at(s):.2e} train(batch) {lt:.4f} held-out {lh:.4f}")
torch.cuda.synchronize()
train_secs = time.time() - t_train
last_held = curve[-1][2]
model.load_state_dict(best[2])
best_step = best[1]
log(f"keeping the checkpoint of step {best_step} (held-out {best[0]:.4f}; last step {last_held:.4f})")
final_train = evaluate(model, train_eval_batches)
final_held = evaluate(model, held_batches)
log(f"trained {steps} steps in {train_secs:.1f}s; kept step {best_step}: loss train {final_train:.4f} "
    f"held-out {final_held:.4f} (ppl {math.exp(final_held):.2f})")

# ------------------------------------------------------------------ save (float16)
model.eval()
model = model.to(torch.float16)
model.config.use_cache = True
gc = GenerationConfig(bos_token_id=1, eos_token_id=0, pad_token_id=0, do_sample=False,
                      max_new_tokens=64)
model.generation_config = gc
save_kw = {}
import inspect  # noqa: E402
if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
    save_kw["safe_serialization"] = True
model.save_pretrained(args.out, **save_kw)
gc.save_pretrained(args.out)
files = sorted(os.listdir(args.out))
sizes = {f: os.path.getsize(os.path.join(args.out, f)) for f in files}
log("saved:", sizes)
assert "model.safetensors" in files, files
assert sizes["model.safetensors"] < 12 * 2**20, sizes

# Reload the saved fp16 weights in fp32 and check loss + greedy samples.
re_model = LlamaForCausalLM.from_pretrained(args.out, dtype=torch.float32,
                                            attn_implementation="eager").to(dev).eval()
reload_held = evaluate(re_model, held_batches)
log(f"reloaded fp16 checkpoint (as fp32): held-out loss {reload_held:.4f}")
samples = []
try:
    re_model.generation_config.eos_token_id = None
    for prompt in ["The GNU General Public License", "To list the files in a directory, use",
                   "This manual page documents", "NAME\n"]:
        ids = hf_tok2(prompt, return_tensors="pt")["input_ids"].to(dev)
        with torch.no_grad():
            out = re_model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                    max_new_tokens=48, pad_token_id=0)
        text = hf_tok2.decode(out[0], skip_special_tokens=True)
        samples.append((prompt, text))
        log("sample:", repr(text))
except Exception as e:  # samples are for reading only
    log("WARNING: sampling failed:", repr(e))
    warnings.append(f"sampling failed: {e!r}")

# ------------------------------------------------------------------ TRAINING.md
summary_path = os.path.join(args.corpus, "SUMMARY.txt")
summary = open(summary_path).read() if os.path.exists(summary_path) else "(no SUMMARY.txt)"
cmd = "python3 " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:])
md = []
md.append("# quantc-tiny-llama: how it was trained\n")
md.append("Generated by `models/train_tiny_llama.py`; do not edit by hand. "
          "See models/README.md for how to regenerate it.\n")
md.append("## Command\n")
md.append(f"```\n{cmd}\n```\n")
md.append(f"(run by `scripts/device/make_models.sh` on the device machine). The step count was "
          f"{'given' if args.steps > 0 else 'chosen from a timed trial'}: {steps}. To repeat this run "
          f"exactly, pass `--steps {steps}` with the same corpus.\n")
md.append("## Model\n")
md.append("| field | value |\n| --- | --- |\n" + "".join(
    f"| {k} | {v} |\n" for k, v in [
        ("architecture", "LlamaForCausalLM"), ("parameters", n_params),
        ("vocab_size", V), ("hidden_size", 256), ("intermediate_size", 768),
        ("num_hidden_layers", 4), ("num_attention_heads / head_dim", "8 / 32"),
        ("num_key_value_heads", 4), ("max_position_embeddings", 512),
        ("rope", "default, theta 10000"), ("rms_norm_eps", "1e-5"),
        ("tie_word_embeddings", False), ("bos / eos ids", "1 `<|begin_of_text|>` / 0 `<|endoftext|>`"),
        ("saved dtype", "float16 (model.safetensors)")]))
md.append("\n## Tokenizer\n")
md.append("Byte-level BPE trained with `tokenizers` on the training chunks: ByteLevel pre-tokenizer "
          "(add_prefix_space=False, GPT-2 regex) and decoder, no normalizer, vocab 2048 (256 byte symbols, "
          "2 special tokens, merges), min_frequency 2. Special tokens `<|endoftext|>` = 0 (eos) and "
          "`<|begin_of_text|>` = 1 (bos). The post-processor (TemplateProcessing) prepends bos to every "
          "encoded text. Saved as PreTrainedTokenizerFast: tokenizer.json + tokenizer_config.json.\n")
if warnings:
    md.append("Warnings from the tokenizer checks:\n" + "".join(f"- {w}\n" for w in warnings))
md.append("## Training\n")
md.append("| hyperparameter | value |\n| --- | --- |\n" + "".join(
    f"| {k} | {v} |\n" for k, v in [
        ("seed", args.seed), ("steps", f"{steps} (at most {args.max_epochs} epochs); the checkpoint "
                                       f"kept is the one of step {best_step}, the lowest held-out "
                                       f"loss among the evaluations every {args.eval_every} steps"), ("batch", f"{B} sequences x {S} tokens"),
        ("tokens seen", steps * B * S),
        ("optimizer", f"AdamW (fused), betas (0.9, 0.95), eps 1e-8, weight decay {args.wd} on matrices"),
        ("learning rate", f"peak {args.lr}, linear warm-up {args.warmup} steps, cosine to "
                          f"{args.min_lr_frac}x peak"),
        ("gradient clipping", args.clip), ("precision", "fp32 weights and optimizer, bf16 autocast"),
        ("attention during training", "sdpa"), ("init", "transformers default (normal, std 0.02)"),
        ("data", "random 257-token windows of the token stream [bos] chunk [eos] [bos] chunk [eos] ..."),
        ("held out", f"every {args.heldout_every}th ~4 KB chunk; evaluated on 4 fixed batches of 32 x 256"),
        ("training time", f"{train_secs:.1f} s"),
        ("GPU", torch.cuda.get_device_name(0))]))
md.append("\n## Losses (cross-entropy, nats/token)\n")
md.append(f"- initial held-out loss: {l0:.4f} (ln 2048 = {math.log(V):.4f})\n")
md.append(f"- kept checkpoint (step {best_step}): training loss (4 fixed training batches) "
          f"{final_train:.4f}, held-out loss {final_held:.4f} (perplexity {math.exp(final_held):.2f}; "
          f"the held-out set also chose the checkpoint, so this is slightly optimistic)\n")
md.append(f"- held-out loss at the last step ({steps}): {last_held:.4f}\n")
md.append(f"- held-out loss of the saved float16 checkpoint reloaded in float32: {reload_held:.4f}\n\n")
md.append("| step | training batch loss | held-out loss |\n| --- | --- | --- |\n")
md.append("".join(f"| {s} | {lt:.4f} | {lh:.4f} |\n" for s, lt, lh in curve))
md.append("\n## Greedy samples (saved checkpoint, float32, 48 new tokens)\n")
for pr, tx in samples:
    md.append(f"- prompt {json.dumps(pr)}:\n\n```\n{tx}\n```\n")
md.append("\n## Corpus\n")
md.append(f"Collected by `models/collect_corpus.sh` from the Debian machine's own documentation "
          f"(not committed; models/corpus/MANIFEST.tsv lists each source file with its sha256). "
          f"{len(docs)} documents, {corpus_bytes} bytes; {len(chunks)} chunks, "
          f"{len(train_chunks)} for training, {len(held_chunks)} held out; "
          f"{train_ids.numel()} training tokens, {held_ids.numel()} held-out tokens. "
          f"sha256 over the category files in sorted order: {corpus_sha.hexdigest()}.\n")
md.append(f"```\n{summary.strip()}\n```\n")
md.append("## Versions\n")
md.append(f"- python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
          f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, "
          f"numpy {np.__version__}\n")
md.append(f"- files: " + ", ".join(f"{f} ({sizes[f]} bytes)" for f in files if f != "TRAINING.md") + "\n")
with open(os.path.join(args.out, "TRAINING.md"), "w") as fh:
    fh.write("".join(md))
log("wrote TRAINING.md; done")
