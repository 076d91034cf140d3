#!/usr/bin/env python3
"""Writes the attention-layer reference fixtures in tests/data/layer/ from PyTorch and
Hugging Face transformers. Run by hand when a fixture changes, never by CI:

    .venv/bin/pip install torch transformers numpy
    .venv/bin/python tools/make_layer_fixtures.py

Seeds are fixed, so a rerun with the same torch and transformers writes the same bytes.
Tensors are float32, batch first; weights are in nn.Linear layout [out, in].

nn.MultiheadAttention(embed_dim=32, num_heads=4, batch_first=True), eval mode, B=2:
  mha_bias            self-attention, L=6, with biases, need_weights=True and
                      average_attn_weights=False: x, in_proj_weight [96,32], in_proj_bias
                      [96], out_proj_weight [32,32], out_proj_bias [32], out [2,6,32],
                      weights [2,4,6,6].
  mha_nobias          as mha_bias with bias=False and average_attn_weights=True (no bias
                      arrays; weights [2,6,6], the mean over heads).
  mha_padding_causal  with biases, right padding lens = [6, 4] (key_padding_mask True at
                      j >= lens[b]) and a causal attn_mask (True above the diagonal),
                      need_weights=False: x, lens (int32 [2]), the projections, out. Rows
                      i >= lens[b] of out are what torch gives (padding queries still
                      attend to the real keys j <= i); compare rows i < lens[b] only.
  mha_cross           cross-attention with kdim = vdim = embed_dim (in_proj_weight stays
                      packed): x [2,5,32], x_kv [2,7,32], the weights and biases, out
                      [2,5,32], weights [2,4,5,7].
  Every one also holds num_heads (int32 scalar). The biases are drawn at random (torch
  initialises them to zero, which would test nothing).

transformers LlamaAttention (eager), hidden 128, 8 query heads, 2 kv heads (head_dim 16),
rope_theta 10000, no biases, weights ~ N(0, 0.1):
  llama_gqa           B=2, L=7, causal, position_ids 0..6: wq [128,128], wk [32,128],
                      wv [32,128], wo [128,128], x [2,7,128], out [2,7,128], theta (float32
                      scalar), num_heads, num_kv_heads (int32 scalars). RoPE is the
                      half-split kind: dim i pairs with i + D/2, inv_freq = theta^(-2i/D).
  llama_decode        the same layer (its weights are in llama_gqa) on one sequence of 8
                      tokens, one causal forward: x [1,8,128], out [1,8,128], prompt_len =
                      5 (int32 scalar). A KV cache fed 5 tokens, then 3 single tokens,
                      must give all 8 rows of out.

transformers GPTJAttention (eager), n_embd 64, 4 heads (head_dim 16), no biases:
  gptj_interleaved    B=1, L=6, causal: wq, wk, wv, wo [64,64], x [1,6,64], out [1,6,64],
                      rotary_dim = 8 (int32 scalar), theta = 10000 (float32 scalar; GPT-J
                      fixes it), num_heads. Interleaved partial RoPE: in each head dim 2i
                      pairs with 2i+1 for 2i < rotary_dim, inv_freq = theta^(-2i/rotary_dim),
                      dims >= rotary_dim pass through.

Each fixture is checked here against a float64 numpy implementation of the same math,
and the nn.MultiheadAttention ones also against torch's need_weights=False call and its
non-fast path, so a wrong layout convention fails here rather than in the C++ tests.

File format (little-endian), one file per fixture, <name>.bin: magic b"MHAFIX1\\0", uint32
count, then count records of: uint32 name length, name bytes, uint32 dtype (0 float32,
1 int32), uint32 ndim, ndim x int64 dims, the data row-major. A scalar has ndim 0.
"""
import os
import struct

import numpy as np
import torch
from torch import nn
from transformers import GPTJConfig, LlamaConfig
from transformers.models.gptj.modeling_gptj import GPTJAttention, GPTJRotaryEmbedding
from transformers.models.llama.modeling_llama import LlamaAttention, LlamaRotaryEmbedding

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "layer")
TOL = 1e-5


def write_fixture(name, arrays):
    with open(os.path.join(OUT_DIR, name + ".bin"), "wb") as f:
        f.write(b"MHAFIX1\0")
        f.write(struct.pack("<I", len(arrays)))
        for key, value in arrays.items():
            a = np.asarray(value)
            is_float = a.dtype.kind == "f"
            a = a.astype("<f4" if is_float else "<i4")
            f.write(struct.pack("<I", len(key)) + key.encode())
            f.write(struct.pack("<II", 0 if is_float else 1, a.ndim))
            f.write(struct.pack(f"<{a.ndim}q", *a.shape))
            f.write(np.ascontiguousarray(a).tobytes())


def np32(t):
    return t.detach().cpu().numpy().astype(np.float32)


def check(what, got, want, tol=TOL):
    err = float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))))
    print(f"  {what}: max |diff| = {err:.2e}")
    assert err <= tol, f"{what}: {err} > {tol}"


# ---- float64 numpy reference -------------------------------------------------------------

def ref_attention(q, k, v, allowed):
    """q [B,Lq,H,D], k/v [B,Lk,Hkv,D], allowed [B,Lq,Lk] bool -> (o [B,Lq,H,D], p [B,H,Lq,Lk])."""
    heads, kv_heads, d = q.shape[2], k.shape[2], q.shape[3]
    kv_of = np.arange(heads) // (heads // kv_heads)
    s = np.einsum("bihd,bjhd->bhij", q, k[:, :, kv_of]) / np.sqrt(d)
    s = np.where(allowed[:, None], s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("bhij,bjhd->bihd", p, v[:, :, kv_of]), p


def ref_layer(x, x_kv, wq, wk, wv, wo, heads, kv_heads, allowed,
              bq=0.0, bk=0.0, bv=0.0, bo=0.0, rope=None):
    x, x_kv = x.astype(np.float64), x_kv.astype(np.float64)
    (b, lq, e), lk = x.shape, x_kv.shape[1]
    q = (x @ wq.T + bq).reshape(b, lq, heads, -1)
    k = (x_kv @ wk.T + bk).reshape(b, lk, kv_heads, -1)
    v = (x_kv @ wv.T + bv).reshape(b, lk, kv_heads, -1)
    if rope is not None:
        q, k = rope(q), rope(k)
    o, p = ref_attention(q, k, v, allowed)
    return o.reshape(b, lq, -1) @ wo.T + bo, p


def rope_half_split(x, theta):
    """x [B,L,H,D]: dim i pairs with i + D/2, position = sequence index."""
    d = x.shape[-1]
    inv_freq = theta ** (-np.arange(0, d, 2) / d)
    ang = np.arange(x.shape[1])[:, None] * inv_freq          # [L, D/2]
    cos, sin = np.cos(ang)[None, :, None], np.sin(ang)[None, :, None]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


def rope_interleaved(x, rotary_dim, theta):
    """x [B,L,H,D]: dim 2i pairs with 2i+1 for 2i < rotary_dim; the rest pass through."""
    inv_freq = theta ** (-np.arange(0, rotary_dim, 2) / rotary_dim)
    ang = np.arange(x.shape[1])[:, None] * inv_freq
    cos, sin = np.cos(ang)[None, :, None], np.sin(ang)[None, :, None]
    out = x.copy()
    even, odd = x[..., 0:rotary_dim:2], x[..., 1:rotary_dim:2]
    out[..., 0:rotary_dim:2] = even * cos - odd * sin
    out[..., 1:rotary_dim:2] = odd * cos + even * sin
    return out


def causal(b, lq, lk):
    return np.broadcast_to(np.tril(np.ones((lq, lk), bool)), (b, lq, lk))


# ---- nn.MultiheadAttention ---------------------------------------------------------------

E, H = 32, 4
# Counts calls of torch's fused kernel, to report which path each call took.
fast_path_calls = 0
_native_mha = torch._native_multi_head_attention


def _counting_native_mha(*args, **kwargs):
    global fast_path_calls
    fast_path_calls += 1
    return _native_mha(*args, **kwargs)


torch._native_multi_head_attention = _counting_native_mha


def run_mha(m, x, x_kv, **kw):
    """(out, weights, whether torch took its fast path)."""
    global fast_path_calls
    before = fast_path_calls
    kv = x if x_kv is None else x_kv    # self-attention must pass the same tensor
    out, w = m(x, kv, kv, **kw)
    return out, w, fast_path_calls > before


def mha_fixture(name, bias=True, lq=6, lk=None, lens=None, need_weights=True, average=False):
    torch.manual_seed(sum(map(ord, name)))
    m = nn.MultiheadAttention(E, H, bias=bias, batch_first=True).eval()
    if bias:
        with torch.no_grad():
            m.in_proj_bias.normal_(0, 0.1)
            m.out_proj.bias.normal_(0, 0.1)
    b = 2
    x = torch.randn(b, lq, E)
    x_kv = None if lk is None else torch.randn(b, lk, E)
    lk = lq if lk is None else lk
    kw = dict(need_weights=need_weights, average_attn_weights=average)
    allowed = np.ones((b, lq, lk), bool)
    if lens is not None:
        key_padding = torch.arange(lk)[None, :] >= torch.tensor(lens)[:, None]     # True: ignore
        kw["key_padding_mask"] = key_padding
        kw["attn_mask"] = torch.triu(torch.ones(lq, lk, dtype=torch.bool), 1)   # True: masked
        allowed = causal(b, lq, lk) & ~key_padding.numpy()[:, None, :]

    print(name)
    with torch.inference_mode():
        out, w, fast = run_mha(m, x, x_kv, **kw)
        out_nw, _, fast_nw = run_mha(m, x, x_kv, **{**kw, "need_weights": False})
        torch.backends.mha.set_fastpath_enabled(False)
        out_slow, w_slow, _ = run_mha(m, x, x_kv, **kw)
        torch.backends.mha.set_fastpath_enabled(True)
    print(f"  fast path: stored call {fast}, need_weights=False call {fast_nw}")

    real = np.ones((b, lq), bool) if lens is None else np.arange(lq)[None] < np.array(lens)[:, None]
    check("need_weights=False vs stored", np32(out_nw)[real], np32(out)[real])
    check("non-fast path vs stored", np32(out_slow)[real], np32(out)[real])

    wq, wk, wv = np.split(m.in_proj_weight.detach().numpy().astype(np.float64), 3)
    bq, bk, bv = np.split(m.in_proj_bias.detach().numpy(), 3) if bias else (0.0, 0.0, 0.0)
    bo = m.out_proj.bias.detach().numpy() if bias else 0.0
    x_np = x.numpy()
    ref_out, ref_p = ref_layer(x_np, x_np if x_kv is None else x_kv.numpy(), wq, wk, wv,
                               m.out_proj.weight.detach().numpy(), H, H, allowed, bq, bk, bv, bo)
    check("numpy reference vs stored (real rows)", ref_out[real], np32(out)[real])

    arrays = {"x": x}
    if x_kv is not None:
        arrays["x_kv"] = x_kv
    arrays["in_proj_weight"] = m.in_proj_weight
    if bias:
        arrays["in_proj_bias"] = m.in_proj_bias
    arrays["out_proj_weight"] = m.out_proj.weight
    if bias:
        arrays["out_proj_bias"] = m.out_proj.bias
    if lens is not None:
        arrays["lens"] = np.array(lens, np.int32)
    arrays["num_heads"] = np.array(H, np.int32)
    arrays["out"] = out
    if need_weights:
        check("weights vs numpy", np32(w), ref_p.mean(1) if average else ref_p)
        check("weights vs non-fast path", np32(w), np32(w_slow))
        arrays["weights"] = w
    write_fixture(name, {k: np32(v) if torch.is_tensor(v) else v for k, v in arrays.items()})


# ---- transformers ------------------------------------------------------------------------

def additive_causal_mask(b, lq, lk):
    """[B,1,Lq,Lk], 0 where allowed and finfo.min where masked, as transformers builds it."""
    masked = torch.ones(lq, lk, dtype=torch.bool).triu(1)
    return torch.zeros(b, 1, lq, lk).masked_fill(masked, torch.finfo(torch.float32).min)


def random_linears(module, names):
    for n in names:
        with torch.no_grad():
            getattr(module, n).weight.normal_(0, 0.1)


LLAMA = dict(hidden_size=128, num_attention_heads=8, num_key_value_heads=2,
             rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
             attention_bias=False, max_position_embeddings=64)


def llama_layer():
    config = LlamaConfig(**LLAMA)
    config._attn_implementation = "eager"
    torch.manual_seed(1)
    attn = LlamaAttention(config, layer_idx=0).eval()
    random_linears(attn, ["q_proj", "k_proj", "v_proj", "o_proj"])
    return config, attn, LlamaRotaryEmbedding(config)


def llama_forward(attn, rope, x):
    b, l, _ = x.shape
    position_ids = torch.arange(l)[None].expand(b, l)
    with torch.inference_mode():
        out, _ = attn(x, position_embeddings=rope(x, position_ids),
                      attention_mask=additive_causal_mask(b, l, l))
    return out


def llama_reference(attn, x, theta):
    w = {n: getattr(attn, n).weight.detach().numpy().astype(np.float64)
         for n in ("q_proj", "k_proj", "v_proj", "o_proj")}
    b, l, _ = x.shape
    out, _ = ref_layer(x.numpy(), x.numpy(), w["q_proj"], w["k_proj"], w["v_proj"], w["o_proj"],
                       8, 2, causal(b, l, l), rope=lambda t: rope_half_split(t, theta))
    return out


def llama_fixtures():
    config, attn, rope = llama_layer()
    theta = config.rope_parameters["rope_theta"]

    print("llama_gqa")
    torch.manual_seed(2)
    x = torch.randn(2, 7, 128)
    out = llama_forward(attn, rope, x)
    check("numpy reference (half-split RoPE, GQA)", llama_reference(attn, x, theta), np32(out))
    write_fixture("llama_gqa", {
        "wq": np32(attn.q_proj.weight), "wk": np32(attn.k_proj.weight),
        "wv": np32(attn.v_proj.weight), "wo": np32(attn.o_proj.weight),
        "x": np32(x), "out": np32(out), "theta": np.array(theta, np.float32),
        "num_heads": np.array(8, np.int32), "num_kv_heads": np.array(2, np.int32)})

    print("llama_decode")
    torch.manual_seed(3)
    x = torch.randn(1, 8, 128)
    prompt = 5
    out = llama_forward(attn, rope, x)
    check("numpy reference", llama_reference(attn, x, theta), np32(out))
    # The same rows through transformers' own KV cache: prefill, then one token at a time.
    from transformers import DynamicCache
    cache = DynamicCache(config=config)
    rows = []
    with torch.inference_mode():
        for start, end in [(0, prompt)] + [(t, t + 1) for t in range(prompt, 8)]:
            pos = torch.arange(start, end)[None]
            # The prefill starts at position 0; one new token sees the whole cache.
            mask = additive_causal_mask(1, end, end) if start == 0 else None
            o, _ = attn(x[:, start:end], position_embeddings=rope(x, pos),
                        attention_mask=mask, cache=cache)
            rows.append(o)
    check("transformers DynamicCache, prefill 5 + 3 decode steps", np32(torch.cat(rows, 1)),
          np32(out))
    write_fixture("llama_decode", {"x": np32(x), "out": np32(out),
                                   "prompt_len": np.array(prompt, np.int32)})


def gptj_fixture():
    print("gptj_interleaved")
    config = GPTJConfig(n_embd=64, n_head=4, rotary_dim=8, n_positions=64,
                        attn_pdrop=0.0, resid_pdrop=0.0)
    config._attn_implementation = "eager"
    torch.manual_seed(4)
    attn = GPTJAttention(config, layer_idx=0).eval()
    random_linears(attn, ["q_proj", "k_proj", "v_proj", "out_proj"])
    x = torch.randn(1, 6, 64)
    b, l, _ = x.shape
    position_ids = torch.arange(l)[None]
    with torch.inference_mode():
        out, _ = attn(x, position_embeddings=GPTJRotaryEmbedding(config)(x, position_ids),
                      attention_mask=additive_causal_mask(b, l, l))
    w = {n: getattr(attn, n).weight.detach().numpy().astype(np.float64)
         for n in ("q_proj", "k_proj", "v_proj", "out_proj")}
    theta = 10000.0
    ref, _ = ref_layer(x.numpy(), x.numpy(), w["q_proj"], w["k_proj"], w["v_proj"], w["out_proj"],
                       4, 4, causal(b, l, l), rope=lambda t: rope_interleaved(t, 8, theta))
    check("numpy reference (interleaved partial RoPE)", ref, np32(out))
    write_fixture("gptj_interleaved", {
        "wq": np32(attn.q_proj.weight), "wk": np32(attn.k_proj.weight),
        "wv": np32(attn.v_proj.weight), "wo": np32(attn.out_proj.weight),
        "x": np32(x), "out": np32(out), "rotary_dim": np.array(8, np.int32),
        "theta": np.array(theta, np.float32), "num_heads": np.array(4, np.int32)})


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.set_num_threads(1)   # one thread: the same reduction order on every machine
    mha_fixture("mha_bias")
    mha_fixture("mha_nobias", bias=False, average=True)
    mha_fixture("mha_padding_causal", lens=[6, 4], need_weights=False)
    mha_fixture("mha_cross", lq=5, lk=7)
    llama_fixtures()
    gptj_fixture()
    print(f"torch {torch.__version__}; fixtures written to {os.path.normpath(OUT_DIR)}")


if __name__ == "__main__":
    main()
