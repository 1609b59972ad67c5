#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write a Llama-architecture GGUF with random F16 weights for benchmarks.

Weights do not change the speed of inference, so a model this script
generates measures the same as a trained one of the same shape. The default
shape is that of a ~1.1 B model (Llama 3.2 1B's layers, a 32000 SentencePiece
vocabulary of placeholder tokens). Q4_0 comes from llama-quantize.

Usage: make-gguf.py OUT.gguf [--layers N] [--embd N] [--ff N] [--heads N]
                             [--kv-heads N] [--vocab N]
Needs only Python 3 and NumPy.
"""
import argparse
import struct

import numpy as np

GGUF_VERSION = 3
ALIGN = 32
T_UINT32, T_FLOAT32, T_STRING, T_ARRAY, T_INT32 = 4, 6, 8, 9, 5
GGML_F32, GGML_F16 = 0, 1


def s(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = s(key) + struct.pack("<I", vtype)
    if vtype == T_UINT32:
        return out + struct.pack("<I", value)
    if vtype == T_FLOAT32:
        return out + struct.pack("<f", value)
    if vtype == T_STRING:
        return out + s(value)
    raise ValueError(vtype)


def kv_array(key, etype, values):
    out = s(key) + struct.pack("<IIQ", T_ARRAY, etype, len(values))
    if etype == T_STRING:
        return out + b"".join(s(v) for v in values)
    fmt = {T_FLOAT32: "f", T_INT32: "i"}[etype]
    return out + struct.pack("<%d%s" % (len(values), fmt), *values)


def vocab(n):
    # SentencePiece layout: unk, bos, eos, the 256 byte tokens, then words.
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)]
    toks += ["\u2581tok%d" % i for i in range(n - len(toks))]
    types = [2, 3, 3] + [6] * 256 + [1] * (n - 259)
    scores = [0.0] * 259 + [-float(i) for i in range(n - 259)]
    return toks, scores, types


def tensors(a):
    hd = a.embd // a.heads
    kvd = hd * a.kv_heads
    t = [("token_embd.weight", (a.embd, a.vocab), GGML_F16)]
    for i in range(a.layers):
        p = "blk.%d." % i
        t += [
            (p + "attn_norm.weight", (a.embd,), GGML_F32),
            (p + "attn_q.weight", (a.embd, a.embd), GGML_F16),
            (p + "attn_k.weight", (a.embd, kvd), GGML_F16),
            (p + "attn_v.weight", (a.embd, kvd), GGML_F16),
            (p + "attn_output.weight", (a.embd, a.embd), GGML_F16),
            (p + "ffn_norm.weight", (a.embd,), GGML_F32),
            (p + "ffn_gate.weight", (a.embd, a.ff), GGML_F16),
            (p + "ffn_up.weight", (a.embd, a.ff), GGML_F16),
            (p + "ffn_down.weight", (a.ff, a.embd), GGML_F16),
        ]
    t += [("output_norm.weight", (a.embd,), GGML_F32),
          ("output.weight", (a.embd, a.vocab), GGML_F16)]
    return t


def nbytes(shape, dtype):
    return int(np.prod(shape)) * (2 if dtype == GGML_F16 else 4)


def pad(n):
    return (ALIGN - n % ALIGN) % ALIGN


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--embd", type=int, default=2048)
    ap.add_argument("--ff", type=int, default=8192)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=32000)
    a = ap.parse_args()

    toks, scores, types = vocab(a.vocab)
    kvs = [
        kv("general.architecture", T_STRING, "llama"),
        kv("general.name", T_STRING, "kiln-synthetic"),
        kv("general.file_type", T_UINT32, 1),
        kv("llama.context_length", T_UINT32, 4096),
        kv("llama.embedding_length", T_UINT32, a.embd),
        kv("llama.block_count", T_UINT32, a.layers),
        kv("llama.feed_forward_length", T_UINT32, a.ff),
        kv("llama.attention.head_count", T_UINT32, a.heads),
        kv("llama.attention.head_count_kv", T_UINT32, a.kv_heads),
        kv("llama.rope.dimension_count", T_UINT32, a.embd // a.heads),
        kv("llama.rope.freq_base", T_FLOAT32, 10000.0),
        kv("llama.attention.layer_norm_rms_epsilon", T_FLOAT32, 1e-5),
        kv("tokenizer.ggml.model", T_STRING, "llama"),
        kv_array("tokenizer.ggml.tokens", T_STRING, toks),
        kv_array("tokenizer.ggml.scores", T_FLOAT32, scores),
        kv_array("tokenizer.ggml.token_type", T_INT32, types),
        kv("tokenizer.ggml.bos_token_id", T_UINT32, 1),
        kv("tokenizer.ggml.eos_token_id", T_UINT32, 2),
        kv("tokenizer.ggml.unknown_token_id", T_UINT32, 0),
    ]
    ts = tensors(a)
    infos, offset = [], 0
    for name, shape, dtype in ts:
        infos.append(s(name) + struct.pack("<I", len(shape)) +
                     struct.pack("<%dQ" % len(shape), *shape) +
                     struct.pack("<IQ", dtype, offset))
        offset += nbytes(shape, dtype)
        offset += pad(offset)

    # One random block, reused: distinct values everywhere buy nothing.
    rng = np.random.default_rng(0)
    block16 = (rng.standard_normal(1 << 22) * 0.02).astype(np.float16).tobytes()
    ones32 = np.ones(1 << 16, dtype=np.float32).tobytes()

    with open(a.out, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", GGUF_VERSION, len(ts), len(kvs)))
        f.write(b"".join(kvs) + b"".join(infos))
        f.write(b"\0" * pad(f.tell()))
        for name, shape, dtype in ts:
            left = nbytes(shape, dtype)
            src = block16 if dtype == GGML_F16 else ones32
            while left:
                n = min(left, len(src))
                f.write(src[:n])
                left -= n
            f.write(b"\0" * pad(f.tell()))
    params = sum(int(np.prod(sh)) for _, sh, _ in ts)
    print("wrote %s: %.2f B parameters, F16" % (a.out, params / 1e9))


if __name__ == "__main__":
    main()
