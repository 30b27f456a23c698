#!/usr/bin/env python3
"""Write Hugging Face `tokenizers` encodings of tricky texts for TokenizerTest.

    python3 test/unittests/Runtime/make_tokenizer_cases.py \
        --tokenizer models/quantc-tiny-llama/tokenizer.json \
        --out test/unittests/Runtime/data/tokenizer_cases.json

Needs the `tokenizers` package (the device machine has it). Each variant
replaces top-level keys of the default model's tokenizer.json ("patch"; the
test applies the same patch), then records for every text the ids of
encode(text, add_special_tokens=False), and decode() of those ids with and
without skip_special_tokens, and decode() of every prefix of the ids (which cuts
multi-byte characters, so U+FFFD handling is pinned too).
"""
import argparse
import json

import tokenizers
from tokenizers import Tokenizer

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")

TEXTS = [
    "Hello world", "  leading spaces", "trailing spaces   ", "   ", "", "\n", " ",
    "tabs\tand\nnewlines\n\n", "\r\n windows\r\n line", "a\n\n  b", "x \n y",
    "it's I'M we'll they'VE don't", "''", "'s", "A'S", "'ll'd'",
    "numbers 1234567 3.14 1,000 abc123def4567", "multiple     spaces between",
    "tab\t\tx", "ends with newline\n", "int main() { return 0; }\n",
    "https://example.com/path?q=1&r=2", "email@example.com", "$$$ !!! ???",
    "emoji \U0001F600\U0001F44D\U0001F3FD ok", "caf\u00e9 na\u00efve \u00dcn\u00efc\u00f6d\u00e9",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440",
    "mixed\u2014dash \u201cquotes\u201d \u00abguillemets\u00bb", "x\u00b2+y\u00b3 \u00bd",
    "a\u00a0b", "\u2003em space", "e\u0301 combining", "\u200bzero width", "\u00df \u03b1\u03b2\u03b3",
    "\u0663\u0664\u0665 digits", "\uff21\uff22\uff23\uff11\uff12\uff13",
    "\u0928\u092e\u0938\u094d\u0924\u0947", "\uc548\ub155\ud558\uc138\uc694",
    "<|endoftext|>inside<|endoftext|>", "a <|begin_of_text|> b", "<|endoftext|>",
    "x<|user|>y  <|user|>  z", "foo_bar foo_barz (foo_bar)", "NAME\n    grep -h\n\n",
]


def variants(base):
    def split_then_bytelevel(regex):
        return {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]}

    extra = base["added_tokens"] + [
        {"id": 2048, "content": "<|user|>", "single_word": False, "lstrip": True,
         "rstrip": True, "normalized": False, "special": True},
        {"id": 2049, "content": "foo_bar", "single_word": True, "lstrip": False,
         "rstrip": False, "normalized": False, "special": False},
    ]
    prefix = dict(base["pre_tokenizer"], add_prefix_space=True)
    return [
        ("default", {}),
        ("prefix_space", {"pre_tokenizer": prefix}),
        ("gpt2_split", {"pre_tokenizer": split_then_bytelevel(GPT2)}),
        ("llama3_split", {"pre_tokenizer": split_then_bytelevel(LLAMA3)}),
        ("qwen2_split", {"pre_tokenizer": split_then_bytelevel(QWEN2)}),
        ("added_tokens", {"added_tokens": extra}),
    ]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tokenizer", default="models/quantc-tiny-llama/tokenizer.json")
    p.add_argument("--out", default="test/unittests/Runtime/data/tokenizer_cases.json")
    args = p.parse_args()
    base = json.load(open(args.tokenizer, encoding="utf-8"))
    out = {"generator": "test/unittests/Runtime/make_tokenizer_cases.py",
           "tokenizers": tokenizers.__version__, "variants": []}
    for name, patch in variants(base):
        tok = Tokenizer.from_str(json.dumps(dict(base, **patch)))
        cases = []
        for text in TEXTS:
            ids = tok.encode(text, add_special_tokens=False).ids
            cases.append({
                "text": text, "ids": ids,
                "decoded": tok.decode(ids, skip_special_tokens=False),
                "decoded_skip": tok.decode(ids, skip_special_tokens=True),
                "prefix_decodes": [tok.decode(ids[:k], skip_special_tokens=False)
                                   for k in range(1, len(ids))],
            })
        out["variants"].append({"name": name, "patch": patch, "cases": cases})
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
