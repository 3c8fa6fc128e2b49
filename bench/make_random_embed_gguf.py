#!/usr/bin/env python3
"""Writes a small embedding GGUF with random weights and real tensor names, for tests and
benchmarks of Basalt's embeddings.

--arch bert (default): a BERT encoder as llama.cpp loads nomic-embed/bge/mxbai GGUFs
(arch `bert`, non-causal attention, pooling from `bert.pooling_type`), with a real WordPiece
vocabulary (tokenizer model `bert`, [CLS]/[SEP]/[UNK]/[PAD]/[MASK] at BERT's ids, whole words
and `##` continuations stored in llama.cpp's phantom-space form) built from the characters,
digits and common English words below.

--arch llama: a causal decoder with `llama.pooling_type` set (last-token pooling like
Qwen3-Embedding, or mean like e5-mistral), with the 32k Llama-2 SentencePiece vocabulary copied
from shared/models/llama-2-tiny-random.gguf.

Random weights give embeddings that are deterministic functions of the input, which is what
the tests check (determinism, unit length, batching); they carry no meaning.

usage: make_random_embed_gguf.py OUT.gguf [--arch bert|llama] [--pooling mean|cls|last]
                                 [--embd N] [--layers N] [--heads N] [--ff N] [--ctx N]
"""
import argparse
import pathlib
import string

import numpy as np
import gguf

POOLING = {"none": 0, "mean": 1, "cls": 2, "last": 3}

WORDS = """the of and to a in is it you that he was for on are with as i his they be at one have
this from or had by hot word but what some we can out other were all there when up use your how
said an each she which do their time if will way about many then them write would like so these
her long make thing see him two has look more day could go come did number sound no most people my
over know water than call first who may down side been now find any new work part take get place
made live where after back little only round man year came show every good me give our under name
very through just form sentence great think say help low line differ turn cause much mean before
move right boy old too same tell does set three want air well also play small end put home read
hand port large spell add even land here must big high such follow act why ask men change went
light kind off need house picture try us again animal point mother world near build self earth
father head stand own page should country found answer school grow study still learn plant cover
food sun four between state keep eye never last let thought city tree cross farm hard start might
story saw far sea draw left late run don while press close night real life few north open seem
together next white children begin got walk example ease paper group always music those both mark
often letter until mile river car feet care second book carry took science eat room friend began
idea fish mountain stop once base hear horse cut sure watch color face wood main enough plain girl
usual young ready above ever red list though feel talk bird soon body dog family direct pose leave
song measure door product black short numeral class wind question happen complete ship area half
rock order fire south problem piece told knew pass since top whole king space heard best hour
better true during hundred five remember step early hold west ground interest reach fast verb sing
listen six table travel less morning ten simple several vowel toward war lay against pattern slow
center love person money serve appear road map rain rule govern pull cold notice voice unit power
town fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest
correct able pound done beauty drive stood contain front teach week final gave green oh quick
develop ocean warm free minute strong special mind behind clear tail produce fact street inch
multiply nothing course stay wheel full force blue object decide surface deep moon island foot
system busy test record boat common gold possible plane stead dry wonder laugh thousand ago ran
check game shape equate miss brought heat snow tire bring yes distant fill east paint language
among embedding vector search query document model text cloud server bedrock titan cohere""".split()
SUFFIXES = "s es ed ing er est ly ion tion ness ment able ful less".split()


def wordpiece_vocab():
    """BERT's layout: [PAD]=0, [unusedN], [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103."""
    tokens = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]",
                                                                 "[MASK]"]
    types = [gguf.TokenType.CONTROL] * len(tokens)
    seen = set(tokens)

    def add(tok):
        if tok not in seen:
            seen.add(tok)
            tokens.append(tok)
            types.append(gguf.TokenType.NORMAL)

    chars = string.ascii_lowercase + string.digits + string.punctuation
    # llama.cpp's WPM vocabulary: a word start carries U+2581, a "##" continuation is bare.
    for c in chars:
        add("\u2581" + c)
    for c in string.ascii_lowercase + string.digits:
        add(c)
    for w in WORDS:
        add("\u2581" + w)
    for s in SUFFIXES:
        add(s)
    return tokens, types


def copy_llama_vocab(w, path):
    src = gguf.GGUFReader(path)

    def field(name):
        f = src.fields[name]
        if f.types[0] == gguf.GGUFValueType.ARRAY:
            if f.types[1] == gguf.GGUFValueType.STRING:
                return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
            return [f.parts[i][0].item() for i in f.data]
        if f.types[0] == gguf.GGUFValueType.STRING:
            return bytes(f.parts[f.data[0]]).decode("utf-8")
        return f.parts[f.data[0]][0].item()

    tokens = field("tokenizer.ggml.tokens")
    w.add_tokenizer_model(field("tokenizer.ggml.model"))
    w.add_token_list(tokens)
    w.add_token_scores(field("tokenizer.ggml.scores"))
    w.add_token_types(field("tokenizer.ggml.token_type"))
    w.add_bos_token_id(int(field("tokenizer.ggml.bos_token_id")))
    w.add_eos_token_id(int(field("tokenizer.ggml.eos_token_id")))
    w.add_unk_token_id(int(field("tokenizer.ggml.unknown_token_id")))
    # Decoder embedding models end the input with EOS so that last-token pooling sees it.
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)
    return len(tokens)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    here = pathlib.Path(__file__).resolve().parent
    ap.add_argument("--vocab-from", default=str(here.parent.parent / "shared" / "models" /
                                                "llama-2-tiny-random.gguf"))
    ap.add_argument("--arch", choices=["bert", "llama"], default="bert")
    ap.add_argument("--pooling", choices=sorted(POOLING), default=None)
    ap.add_argument("--embd", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ff", type=int, default=128)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    pooling = args.pooling or ("mean" if args.arch == "bert" else "last")
    n_embd, n_ff, n_ctx = args.embd, args.ff, args.ctx
    rng = np.random.default_rng(args.seed)

    def rand(*shape):
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    def ones(n):
        return np.ones(n, dtype=np.float32)

    def zeros(n):
        return np.zeros(n, dtype=np.float32)

    w = gguf.GGUFWriter(args.out, args.arch)
    w.add_name(f"random {args.arch} embedding model ({pooling} pooling)")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(args.layers)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(args.heads)
    w.add_pooling_type(gguf.PoolingType(POOLING[pooling]))
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    if args.arch == "bert":
        w.add_head_count_kv(args.heads)
        w.add_layer_norm_eps(1e-12)
        w.add_causal_attention(False)
        tokens, types = wordpiece_vocab()
        n_vocab = len(tokens)
        w.add_tokenizer_model("bert")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_type_count(2)
        w.add_unk_token_id(100)
        w.add_bos_token_id(101)  # [CLS]
        w.add_sep_token_id(102)
        w.add_pad_token_id(0)
        w.add_mask_token_id(103)
        w.add_add_bos_token(True)
        w.add_add_sep_token(True)
        w.add_tensor("token_embd.weight", rand(n_vocab, n_embd))
        w.add_tensor("token_types.weight", rand(2, n_embd))
        w.add_tensor("position_embd.weight", rand(n_ctx, n_embd))
        w.add_tensor("token_embd_norm.weight", ones(n_embd))
        w.add_tensor("token_embd_norm.bias", zeros(n_embd))
        for i in range(args.layers):
            b = f"blk.{i}."
            for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
                w.add_tensor(b + name + ".weight", rand(n_embd, n_embd))
                w.add_tensor(b + name + ".bias", rand(n_embd))
            w.add_tensor(b + "attn_output_norm.weight", ones(n_embd))
            w.add_tensor(b + "attn_output_norm.bias", zeros(n_embd))
            w.add_tensor(b + "ffn_up.weight", rand(n_ff, n_embd))
            w.add_tensor(b + "ffn_up.bias", rand(n_ff))
            w.add_tensor(b + "ffn_down.weight", rand(n_embd, n_ff))
            w.add_tensor(b + "ffn_down.bias", rand(n_embd))
            w.add_tensor(b + "layer_output_norm.weight", ones(n_embd))
            w.add_tensor(b + "layer_output_norm.bias", zeros(n_embd))
    else:
        w.add_head_count_kv(args.heads)
        w.add_rope_dimension_count(n_embd // args.heads)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_rope_freq_base(10000.0)
        n_vocab = copy_llama_vocab(w, args.vocab_from)
        w.add_tensor("token_embd.weight", rand(n_vocab, n_embd))
        w.add_tensor("output_norm.weight", ones(n_embd))
        for i in range(args.layers):
            b = f"blk.{i}."
            w.add_tensor(b + "attn_norm.weight", ones(n_embd))
            for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
                w.add_tensor(b + name + ".weight", rand(n_embd, n_embd))
            w.add_tensor(b + "ffn_norm.weight", ones(n_embd))
            w.add_tensor(b + "ffn_gate.weight", rand(n_ff, n_embd))
            w.add_tensor(b + "ffn_up.weight", rand(n_ff, n_embd))
            w.add_tensor(b + "ffn_down.weight", rand(n_embd, n_ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
