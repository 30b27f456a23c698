#!/usr/bin/env bash
# Gather real English text that ships with this Debian machine into models/corpus/
# (ignored by git) as the training corpus of the embedded default model
# (models/quantc-tiny-llama, see models/README.md).
#
# Usage, from the repository root:
#     bash models/collect_corpus.sh            # writes models/corpus/
#     bash models/collect_corpus.sh OUTDIR     # writes OUTDIR instead
#
# Output:
#     <category>.txt   plain UTF-8 text, documents separated by a line that holds
#                      exactly "<|endoftext|>"
#     MANIFEST.tsv     one row per source file used: category, path, sha256 of
#                      the source file's bytes, bytes of text contributed
#     SUMMARY.txt      totals per category and the sha256 of every .txt file
#
# Sources (each category capped; files are taken in a fixed order, so the same
# machine always gives the same corpus):
#     licenses  /usr/share/common-licenses/*                 (all)
#     perlpod   /usr/share/perl/*/**/*.pod, /usr/share/perl5/**/*.pod, via pod2text
#     info      /usr/share/info/*.info*.gz (node headers and menus stripped)
#     doc       /usr/share/doc/*/{README*,NEWS*,copyright}  (paragraph-deduplicated)
#     man       man pages of sections 1, 5, 7 and 8, rendered with man(1) at 80
#               columns without justification or hyphenation (gcloud pages and
#               versioned duplicates such as clang-14/clang-22 left out)
# Only documents that are at least 97% ASCII are kept (English text).
set -euo pipefail
cd "$(dirname "$0")/.."
OUTDIR=${1:-models/corpus}
mkdir -p "$OUTDIR"
export LANG=C.UTF-8 LC_ALL=C.UTF-8 MANWIDTH=80

python3 - "$OUTDIR" <<'PYEOF'
import glob, gzip, hashlib, os, re, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

OUT = sys.argv[1]
SEP = "\n<|endoftext|>\n"
CAPS = {  # bytes of UTF-8 text per category
    "licenses": 1 << 30,
    "perlpod": 1_500_000,
    "info": 3_500_000,
    "doc": 4_000_000,
    "man": 10_000_000,
}
MAX_DOC = 400_000          # longest single document kept (bytes, truncated at a paragraph)
MIN_DOC = 200

def sha256_file(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()

def read_maybe_gz(p):
    with open(p, "rb") as f:
        data = f.read()
    if p.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")

CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

def clean(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\ufffd", "")
    text = CTRL.sub("", text.expandtabs(4))
    lines = [l.rstrip() for l in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    if "<|endoftext|>" in text or "<|begin_of_text|>" in text:
        text = text.replace("<|", "< |")
    if len(text.encode()) > MAX_DOC:
        cut = text.encode()[:MAX_DOC].decode("utf-8", errors="ignore")
        k = cut.rfind("\n\n")
        text = cut[:k] if k > 0 else cut
    return text

def english(text):
    if len(text) < MIN_DOC:
        return False
    ascii_n = sum(1 for c in text if ord(c) < 128)
    return ascii_n / len(text) >= 0.97

def order_key(p):  # fixed pseudo-random order, so a cap does not favour one letter
    return hashlib.sha1(p.encode()).hexdigest()

# ---------------------------------------------------------------- renderers
def r_plain(p):
    return read_maybe_gz(p)

def r_pod(p):
    r = subprocess.run(["pod2text", "-w", "80", p], capture_output=True, timeout=60)
    return r.stdout.decode("utf-8", errors="replace") if r.returncode == 0 else ""

def r_man(p):
    r = subprocess.run(["man", "--nj", "--nh", "-l", "-P", "cat", p],
                       capture_output=True, timeout=120)
    if r.returncode != 0:
        return ""
    text = r.stdout.decode("utf-8", errors="replace")
    return "\n".join(re.sub(r"^ {7}", "", l) for l in text.split("\n"))

def r_info(p):
    text = read_maybe_gz(p)
    nodes = text.split("\x1f")
    keep = []
    for n in nodes:
        n = n.lstrip("\n")
        if n.startswith(("Tag Table:", "End Tag Table", "Indirect:", "Local Variables")):
            continue
        if n.startswith("File: "):
            n = n.split("\n", 1)[1] if "\n" in n else ""
        out, in_menu = [], False
        for l in n.split("\n"):
            if l.startswith("* Menu:"):
                in_menu = True
                continue
            if in_menu:
                if l.startswith("* ") or l.startswith("   ") or not l.strip():
                    continue
                in_menu = False
            if l.startswith(("INFO-DIR-SECTION", "START-INFO-DIR-ENTRY", "END-INFO-DIR-ENTRY")):
                continue
            if re.match(r"^\*+$|^=+$|^-+$", l.strip()) and len(l.strip()) > 3:
                continue
            out.append(l)
        keep.append("\n".join(out))
    return "\n\n".join(keep)

# ---------------------------------------------------------------- sources
def uniq_real(paths):
    seen, out = set(), []
    for p in paths:
        if not os.path.isfile(p):
            continue
        rp = os.path.realpath(p)
        if rp in seen:
            continue
        seen.add(rp)
        out.append(p)
    return out

def src_licenses():
    return uniq_real(sorted(glob.glob("/usr/share/common-licenses/*")))

def src_perlpod():
    ps = (glob.glob("/usr/share/perl/*/**/*.pod", recursive=True)
          + glob.glob("/usr/share/perl5/**/*.pod", recursive=True))
    return sorted(uniq_real(sorted(ps)), key=order_key)

def src_info():
    return sorted(uniq_real(sorted(glob.glob("/usr/share/info/*.info*.gz"))), key=order_key)

def src_doc():
    ps = []
    for pat in ("README*", "NEWS*", "copyright"):
        ps += glob.glob("/usr/share/doc/*/" + pat)
    ps = [p for p in ps if not p.endswith((".html", ".htm", ".pdf", ".xz", ".bz2"))]
    return sorted(uniq_real(sorted(ps)), key=order_key)

def src_man():
    ps = []
    for sec in ("1", "5", "7", "8"):
        for p in glob.glob(f"/usr/share/man/man{sec}/*"):
            b = os.path.basename(p)
            if b.startswith("gcloud"):
                continue
            stem = re.sub(r"\.[0-9][a-z]*(\.gz)?$", "", b)
            if re.search(r"-[0-9]+$", stem):      # clang-14, FileCheck-22, ...
                continue
            ps.append(p)
    return sorted(uniq_real(sorted(ps)), key=order_key)

CATS = [
    ("licenses", src_licenses, r_plain),
    ("perlpod", src_perlpod, r_pod),
    ("info", src_info, r_info),
    ("doc", src_doc, r_plain),
    ("man", src_man, r_man),
]

manifest = []
summary = []
seen_docs = set()
for cat, src, render in CATS:
    paths = src()
    cap = CAPS[cat]
    used, docs = 0, []
    seen_par = set()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as ex:
        B = 32
        for i in range(0, len(paths), B):
            if used >= cap:
                break
            batch = paths[i:i + B]
            texts = list(ex.map(lambda p: (p, render(p)), batch))
            for p, raw in texts:
                if used >= cap:
                    break
                text = clean(raw)
                if cat == "doc":   # copyright files repeat the same licence paragraphs
                    pars, out = text.split("\n\n"), []
                    for par in pars:
                        key = re.sub(r"\s+", " ", par).strip()
                        if len(key) > 80 and key in seen_par:
                            continue
                        seen_par.add(key)
                        out.append(par)
                    text = "\n\n".join(out).strip("\n")
                if not english(text):
                    continue
                h = hashlib.sha256(text.encode()).hexdigest()
                if h in seen_docs:
                    continue
                seen_docs.add(h)
                n = len(text.encode())
                docs.append(text)
                used += n
                manifest.append((cat, p, sha256_file(p), n))
    data = SEP.join(docs) + "\n"
    path = os.path.join(OUT, cat + ".txt")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(data)
    summary.append((cat, len(docs), len(paths), len(data.encode()),
                    hashlib.sha256(data.encode()).hexdigest()))
    print(f"{cat:9s} {len(docs):5d} docs from {len(paths):5d} candidates  {len(data.encode()):9d} bytes",
          flush=True)

with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as f:
    f.write("category\tpath\tsha256\ttext_bytes\n")
    for row in manifest:
        f.write("\t".join(map(str, row)) + "\n")
with open(os.path.join(OUT, "SUMMARY.txt"), "w") as f:
    tot = sum(s[3] for s in summary)
    f.write(f"quantc training corpus: {tot} bytes of UTF-8 text, {len(manifest)} source files\n")
    f.write("category\tdocuments\tcandidates\tbytes\tsha256\n")
    for s in summary:
        f.write("\t".join(map(str, s)) + "\n")
print(open(os.path.join(OUT, "SUMMARY.txt")).read())
PYEOF
