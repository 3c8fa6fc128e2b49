"""Reference for src/image/tokenizer_test.cc: builds a small CLIP-style BPE vocabulary (the 256
byte symbols, their </w> forms, merges learned from an English word list, the two special
tokens) in DIR/pad<i> for each PAD token given, then encodes every string of TEXTS (a JSON list)
with transformers' CLIPTokenizer (padding to 77, truncation) and writes
[{"dir": ..., "pad_id": n, "ids": [[...], ...]}, ...] (one entry per pad token) to OUT.

usage: tokenizer_ref.py DIR TEXTS.json OUT.json PAD [PAD...]
"""
import collections
import json
import os
import sys

CORPUS = """a photo of an astronaut riding a horse on the moon the quick brown fox jumps over
lazy dog portrait painting landscape mountain river sunset beautiful detailed high quality
digital art by greg city street night rain neon lights cat sitting table coffee cup castle
forest fantasy dragon flying sky clouds ocean waves beach sand tree flower garden spring
summer winter snow house window door red green blue yellow white black orange purple pink
golden hour cinematic lighting trending artstation 4k 8k photorealistic ultra sharp focus
oil canvas watercolor sketch pencil drawing anime style character woman man child old young
it's don't we're they've i'm you'll he'd running jumping walking playing eating"""


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def build(dir_, n_merges=400):
    b2u = bytes_to_unicode()
    symbols = list(b2u.values())
    vocab = symbols + [s + "</w>" for s in symbols]
    words = collections.Counter(CORPUS.split())
    split = {}
    for w, c in words.items():
        syms = [b2u[b] for b in w.encode()]
        syms[-1] += "</w>"
        split[w] = syms
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            s = split[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        vocab.append(best[0] + best[1])
        for w in split:
            s, out, i = split[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            split[w] = out
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(dir_, exist_ok=True)
    with open(os.path.join(dir_, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(dir_, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


def main():
    dir_, texts_path, out = sys.argv[1:4]
    # Debian's tokenizers 0.23 takes RobertaProcessing's arguments positionally only, which
    # transformers 5.12's CLIPTokenizer does not do: adapt the call, change nothing else.
    from tokenizers import processors
    orig = processors.RobertaProcessing
    processors.RobertaProcessing = lambda sep, cls, trim_offsets=True, add_prefix_space=True: \
        orig(sep, cls, trim_offsets, add_prefix_space)
    from transformers import CLIPTokenizer
    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    results = []
    for i, pad in enumerate(sys.argv[4:]):
        d = os.path.join(dir_, f"pad{i}")
        build(d)
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"pad_token": pad, "model_max_length": 77}, f)
        tok = CLIPTokenizer.from_pretrained(d)
        ids = [tok(t, padding="max_length", max_length=77, truncation=True)["input_ids"]
               for t in texts]
        results.append({"dir": d, "pad_id": tok.pad_token_id, "ids": ids})
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
