#!/usr/bin/env python3
"""Writes a GGUF with TinyLlama-1.1B's real shapes and random weights (F16), with the 32k
Llama-2 tokenizer copied from shared/models/llama-2-tiny-random.gguf. Random weights run at
the same speed as trained ones, so this stands in for the real model in benchmarks.

usage: make_random_gguf.py OUT.gguf [--vocab-from GGUF] [--layers N]
"""
import argparse
import pathlib

import numpy as np
import gguf

N_EMBD, N_LAYER, N_HEAD, N_HEAD_KV, N_FF, N_CTX = 2048, 22, 32, 4, 5632, 2048


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    here = pathlib.Path(__file__).resolve().parent
    ap.add_argument("--vocab-from", default=str(here.parent.parent / "shared" / "models" /
                                                "llama-2-tiny-random.gguf"))
    ap.add_argument("--layers", type=int, default=N_LAYER)
    args = ap.parse_args()

    src = gguf.GGUFReader(args.vocab_from)

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
    vocab = len(tokens)
    w = gguf.GGUFWriter(args.out, "llama")
    w.add_name("TinyLlama-1.1B shapes, random weights")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(args.layers)
    w.add_feed_forward_length(N_FF)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model(field("tokenizer.ggml.model"))
    w.add_token_list(tokens)
    w.add_token_scores(field("tokenizer.ggml.scores"))
    w.add_token_types(field("tokenizer.ggml.token_type"))
    w.add_bos_token_id(int(field("tokenizer.ggml.bos_token_id")))
    w.add_eos_token_id(int(field("tokenizer.ggml.eos_token_id")))
    w.add_unk_token_id(int(field("tokenizer.ggml.unknown_token_id")))

    rng = np.random.default_rng(0)
    cache = {}

    def rand(shape):
        # One random block per shape, reused across layers: same speed, less time to write.
        if shape not in cache:
            cache[shape] = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)
        return cache[shape]

    head_dim = N_EMBD // N_HEAD
    kv = N_HEAD_KV * head_dim
    w.add_tensor("token_embd.weight", rand((vocab, N_EMBD)))
    for i in range(args.layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "attn_q.weight", rand((N_EMBD, N_EMBD)))
        w.add_tensor(p + "attn_k.weight", rand((kv, N_EMBD)))
        w.add_tensor(p + "attn_v.weight", rand((kv, N_EMBD)))
        w.add_tensor(p + "attn_output.weight", rand((N_EMBD, N_EMBD)))
        w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", rand((N_FF, N_EMBD)))
        w.add_tensor(p + "ffn_up.weight", rand((N_FF, N_EMBD)))
        w.add_tensor(p + "ffn_down.weight", rand((N_EMBD, N_FF)))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    w.add_tensor("output.weight", rand((vocab, N_EMBD)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(args.out)


if __name__ == "__main__":
    main()
