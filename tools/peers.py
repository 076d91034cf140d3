#!/usr/bin/env python3
"""Runs mha (through its C API) and peer libraries on the same numpy buffers.

For each shape and dtype, every mha backend and every installed peer runs alternately,
rep after rep, so that drift on a noisy machine hits all of them alike. Reports the
median time of each, GFLOP/s, the speed-up of mha over each peer (peer time / mha
time, > 1 means mha is faster), and the largest absolute difference from mha's output.

The whole attention layer (LAYER_SHAPES, as bench/layer_bench.cc) is compared the same
way: mha_layer_forward beside nn.MultiheadAttention, a LLaMA block on
scaled_dot_product_attention and ONNX Runtime graphs, on the same weights and inputs.

  peers.py --lib build-report/lib/libmha.so --bench build-report/bin/mha_bench \\
           [--quick | --shapes tiny,bert,bert-layer-128] [--threads 1] [--reps 5] \\
           --out peers.json
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from mhatools import mha_ctypes, peer_runners
from mhatools.progress import Progress

# Standard shapes the peers skip unless named with --shapes: minutes per repetition.
SLOW_SHAPES = {"long"}
REFERENCE_MAX_FLOPS = 0.1e9  # the scalar reference only runs tiny problems

# The layer shapes of bench/layer_bench.cc (keep the two in step): B, L new tokens per
# row, d_model, heads, kv_heads, head_dim, and for decode kv_len keys attended per step.
_BERT = dict(d_model=768, heads=12, kv_heads=12, head_dim=64, causal=False, rope=False,
             bias=True, packed=True, kv_len=0, dtypes=["f32", "bf16"])
_LLAMA = dict(d_model=4096, heads=32, kv_heads=8, head_dim=128, causal=True, rope=True,
              bias=False, packed=False, dtypes=["bf16"])
LAYER_SHAPES = {
    "standard": [
        dict(_BERT, id="bert-layer-128", batch=8, len=128),
        dict(_BERT, id="bert-layer-512", batch=8, len=512),
        dict(_LLAMA, id="llama-prefill-layer", batch=1, len=2048, kv_len=0),
        dict(_LLAMA, id="llama-decode-layer-b1", batch=1, len=1, kv_len=4096),
        dict(_LLAMA, id="llama-decode-layer-b16", batch=16, len=1, kv_len=4096)],
    "quick": [
        dict(_BERT, id="tiny-layer", batch=2, len=64, d_model=256, heads=4, kv_heads=4),
        dict(_LLAMA, id="tiny-prefill-layer", batch=1, len=128, d_model=512, heads=8,
             kv_heads=2, head_dim=64, kv_len=0),
        dict(_LLAMA, id="tiny-decode-layer", batch=2, len=1, d_model=512, heads=8,
             kv_heads=2, head_dim=64, kv_len=256)]}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lib", required=True, help="path to libmha.so")
    p.add_argument("--bench", required=True, help="path to mha_bench (for the shapes)")
    p.add_argument("--quick", action="store_true", help="the small CI shapes")
    p.add_argument("--shapes", help="comma list of shape ids")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--runner-budget-s", type=float, default=30.0,
                   help="a runner whose warm-up call is slower than this over --reps "
                        "gets fewer reps (at least 1) in this many seconds")
    p.add_argument("--min-ms", type=float, default=20.0,
                   help="repeat calls within one rep until this much time has passed")
    p.add_argument("--out", required=True)
    return p.parse_args()


def load_shapes(args):
    """(attention shapes, layer shapes) to run."""
    sets = json.loads(subprocess.check_output([args.bench, "--print_shapes"]))
    everything = {s["id"]: s for s in sets["standard"] + sets["quick"]}
    layers = {s["id"]: dict(s, flops=layer_flops(s))
              for s in LAYER_SHAPES["standard"] + LAYER_SHAPES["quick"]}
    if args.shapes:
        ids = args.shapes.split(",")
        unknown = [i for i in ids if i not in everything and i not in layers]
        if unknown:
            sys.exit(f"peers: unknown shapes {unknown}")
        return [everything[i] for i in ids if i in everything], \
            [layers[i] for i in ids if i in layers]
    if args.quick:
        return sets["quick"], [layers[s["id"]] for s in LAYER_SHAPES["quick"]]
    return [s for s in sets["standard"] if s["id"] not in SLOW_SHAPES], \
        [layers[s["id"]] for s in LAYER_SHAPES["standard"]]


def layer_flops(s):
    """2 M N K per projection + 4 B Hq D (visible pairs) for attention, as layer_bench."""
    m, q, kv = s["batch"] * s["len"], s["heads"] * s["head_dim"], s["kv_heads"] * s["head_dim"]
    keys = s["kv_len"] or s["len"]
    pairs = sum(min(keys, max(0, i + keys - s["len"] + 1)) for i in range(s["len"])) \
        if s["causal"] else s["len"] * keys
    return 2 * m * s["d_model"] * (2 * q + 2 * kv) + 4 * s["batch"] * s["heads"] * \
        s["head_dim"] * pairs


def make_inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    b, lq, lk, d = shape["batch"], shape["q_len"], shape["kv_len"], shape["head_dim"]
    q = rng.uniform(-1, 1, (b, lq, shape["num_heads"], d)).astype(np.float32)
    k = rng.uniform(-1, 1, (b, lk, shape["num_kv_heads"], d)).astype(np.float32)
    v = rng.uniform(-1, 1, (b, lk, shape["num_kv_heads"], d)).astype(np.float32)
    return q, k, v


def mha_contexts(library, shape, threads, skipped):
    """(runner name, context) for every mha backend that loads and may run shape; the
    others go to skipped."""
    for backend in library.backends():
        name = f"mha-{backend}"
        if backend == "reference" and shape["flops"] > REFERENCE_MAX_FLOPS:
            continue
        if not library.available(backend):
            skipped.append({"runner": name, "reason": library.last_error()})
            continue
        yield name, library.context(backend, threads)


def mha_runners(library, shape, dtype, q, k, v, threads, skipped):
    """One runner per available mha backend: (name, callable returning f32 output)."""
    runners = []
    for name, ctx in mha_contexts(library, shape, threads, skipped):
        out = np.zeros(q.shape, dtype=np.float32)
        if dtype == "bf16":
            inputs = [mha_ctypes.bf16_from_f32(x) for x in (q, k, v)]
            dtypes = (mha_ctypes.BF16, mha_ctypes.BF16, mha_ctypes.F32)
        else:
            inputs, dtypes = [q, k, v], (mha_ctypes.F32, mha_ctypes.F32, mha_ctypes.F32)
        call = ctx.attention_fn(*inputs, out, shape["causal"], dtypes)
        try:
            call()
        except mha_ctypes.MhaError as e:
            skipped.append({"runner": name, "reason": str(e)})
            continue

        def run(call=call, out=out, keep=(ctx, inputs)):  # keep: what call points into
            call()
            return out
        runners.append((f"{name}:{ctx.isa}", run, "mha"))
    return runners


def peer_runners_for(peers, skipped, *problem):
    """One runner per peer that can run problem (the arguments of its prepare)."""
    runners = []
    for peer in peers:
        try:
            runners.append((peer.name, peer.prepare(*problem), "peer"))
        except peer_runners.Skip as e:
            skipped.append({"runner": peer.name, "reason": str(e)})
        except Exception as e:  # a peer's own failure must not stop the others
            skipped.append({"runner": peer.name, "reason": f"failed: {e}".splitlines()[0]})
    return runners


class Bf16Output:
    """A bf16 output (uint16 bits), converted to float32 only when compared."""

    def __init__(self, bits):
        self.bits = bits


def as_f32(out):
    """A runner's output as float32. The layer runners return theirs as computed (a
    torch tensor, a Bf16Output) so that no timed call pays for a conversion."""
    if isinstance(out, Bf16Output):
        return mha_ctypes.f32_from_bf16(out.bits)
    if hasattr(out, "float"):  # a torch tensor
        return out.float().numpy()
    return np.asarray(out, dtype=np.float32)


def time_one(run, min_ms):
    """Milliseconds per call: calls repeated until min_ms has passed."""
    calls, start = 0, time.perf_counter()
    while True:
        run()
        calls += 1
        elapsed = (time.perf_counter() - start) * 1e3
        if elapsed >= min_ms:
            return elapsed / calls


def reps_within_budget(warmup_s, args):
    """--reps, or as many as fit in --runner-budget-s for a slow runner (at least 1):
    a peer 100x slower than mha (say torch's bf16 matmul on a CPU without bf16
    instructions) would otherwise spend minutes on digits nobody reads."""
    return max(1, min(args.reps, int(args.runner_budget_s / max(warmup_s, 1e-9))))


def measure(shape, dtype, runners, args, progress):
    results = {}
    reference = None
    reps = {}
    for name, run, kind in runners:
        progress.step(f"{shape['id']} {dtype} {name} warm-up")
        start = time.perf_counter()
        try:
            out = as_f32(run())
        except Exception as e:
            results[name] = {"kind": kind, "error": f"{e}".splitlines()[0]}
            continue
        reps[name] = reps_within_budget(time.perf_counter() - start, args)
        if reference is None:
            reference = out.copy()
        results[name] = {"kind": kind, "max_abs_diff": float(np.max(np.abs(out - reference))),
                         "times_ms": []}
    live = [(n, r) for n, r, _ in runners if "times_ms" in results[n]]
    for rep in range(args.reps):
        for name, run in live:
            if rep >= reps[name]:
                continue
            progress.step(f"{shape['id']} {dtype} {name} rep {rep + 1}/{reps[name]}")
            results[name]["times_ms"].append(time_one(run, args.min_ms))
    for name, _ in live:
        r = results[name]
        r["median_ms"] = statistics.median(r["times_ms"])
        r["gflops"] = shape["flops"] / r["median_ms"] * 1e-6
    return results


def ratios(shape, dtype, results):
    out = []
    for m, mr in results.items():
        for p, pr in results.items():
            if mr["kind"] == "mha" and pr["kind"] == "peer" and "median_ms" in mr \
                    and "median_ms" in pr:
                out.append({"shape": shape["id"], "dtype": dtype, "mha": m, "peer": p,
                            "speedup": pr["median_ms"] / mr["median_ms"]})
    return out


# ---- The whole layer through mha's C API (mha_layer_*, mha_kv_cache_*) -------------------

def _check(library, status):
    if status != 0:
        raise mha_ctypes.MhaError(library.last_error())


class MhaLayer:
    """A layer on one context; weights: float32 arrays in nn.Linear's layout (stored in
    `dtype`, whose values they must hold exactly), None for absent biases."""

    def __init__(self, ctx, shape, dtype, weights, **options):
        self.ctx, self.lib = ctx, ctx.library.lib
        code = mha_ctypes.BF16 if dtype == "bf16" else mha_ctypes.F32
        stored = mha_ctypes.bf16_from_f32 if dtype == "bf16" else np.ascontiguousarray
        if shape.get("packed"):
            arrays = {"in_proj_weight": np.concatenate(
                [weights["wq"], weights["wk"], weights["wv"]]), "wo": weights["wo"]}
        else:
            arrays = {n: weights[n] for n in ("wq", "wk", "wv", "wo")}
        self.keep = {n: stored(a) for n, a in arrays.items()}
        if shape.get("bias"):
            self.keep["in_proj_bias"] = np.concatenate(
                [weights["bq"], weights["bk"], weights["bv"]]).astype(np.float32)
            self.keep["bo"] = weights["bo"].astype(np.float32)
        d = ctx.library.init(mha_ctypes.LayerDesc())
        d.d_model, d.num_heads = shape["d_model"], shape["heads"]
        d.num_kv_heads, d.head_dim = shape["kv_heads"], shape["head_dim"]
        d.weight_dtype = d.activation_dtype = code
        for name, array in self.keep.items():
            setattr(d, name, array.ctypes.data)
        d.causal, d.rope = int(shape["causal"]), 1 if shape.get("rope") else 0
        for name, value in options.items():
            setattr(d, name, value)
        self.handle = ctypes.c_void_p()
        _check(ctx.library, self.lib.mha_layer_create(ctx.handle, ctypes.byref(d),
                                                      ctypes.byref(self.handle)))

    def __del__(self):
        if self.handle:
            self.lib.mha_layer_destroy(self.handle)

    def forward_fn(self, x, dtype, cache=None):
        """A no-argument callable: out = layer(x) (for decode, truncating every row of
        cache back to all but one position first); returns out as computed."""
        if dtype == "bf16":
            xs, out = mha_ctypes.bf16_from_f32(x), np.zeros(x.shape, np.uint16)
            code, result = mha_ctypes.BF16, Bf16Output(out)
        else:
            xs, out = np.ascontiguousarray(x), np.zeros(x.shape, np.float32)
            code, result = mha_ctypes.F32, out
        xt, ot = mha_ctypes.rows_tensor(xs, code), mha_ctypes.rows_tensor(out, code)
        forward, library = self.lib.mha_layer_forward, self.ctx.library
        truncate = self.lib.mha_kv_cache_truncate
        rows = [] if cache is None else range(x.shape[0])
        handle = None if cache is None else cache.handle

        def run(keep=(self, xs, out, cache)):  # keep: what the call points into
            for b in rows:
                truncate(handle, b, cache.past)
            _check(library, forward(self.handle, ctypes.byref(xt), None, ctypes.byref(ot),
                                    None, handle))
            return result
        return run


class KvCache:
    """A KV cache of `past` + 1 positions whose first `past` hold k and v
    ([B, past, Hkv, D] float32, stored in dtype). The lengths can only grow through
    forwards: a cheap layer of the cache's heads (d_model 8, each query seeing only its
    own key) runs once over `past` tokens, then its K/V are overwritten."""

    def __init__(self, library, k, v, dtype):
        lib = library.lib
        b, past, hkv, d = k.shape
        self.lib, self.past = lib, past
        code = mha_ctypes.BF16 if dtype == "bf16" else mha_ctypes.F32
        # highway's attention skips what the filler's window hides (the cache keeps no
        # context)
        ctx = library.context("highway,reference", 1)
        self.handle = ctypes.c_void_p()
        _check(library, lib.mha_kv_cache_create(ctx.handle, b, hkv, past + 1, d, code,
                                                ctypes.byref(self.handle)))
        zeros = {n: np.zeros((hkv * d, 8), np.float32) for n in ("wq", "wk", "wv")}
        zeros["wo"] = np.zeros((8, hkv * d), np.float32)
        filler = MhaLayer(ctx, dict(d_model=8, heads=hkv, kv_heads=hkv, head_dim=d,
                                    causal=True), "f32", zeros, window_left=0)
        x_rows, out_rows = np.zeros((b, past, 8), np.float32), np.zeros((b, past, 8), np.float32)
        x, out = (mha_ctypes.rows_tensor(a, mha_ctypes.F32) for a in (x_rows, out_rows))
        _check(library, lib.mha_layer_forward(filler.handle, ctypes.byref(x), None,
                                              ctypes.byref(out), None, self.handle))
        views = mha_ctypes.Tensor(), mha_ctypes.Tensor()
        _check(library, lib.mha_kv_cache_views(self.handle, *map(ctypes.byref, views)))
        element = ctypes.c_uint16 if dtype == "bf16" else ctypes.c_float
        for view, values in zip(views, (k, v)):
            storage = np.ctypeslib.as_array((element * (b * (past + 1) * hkv * d)).from_address(
                view.data)).reshape(b, past + 1, hkv, d)
            storage[:, :past] = mha_ctypes.bf16_from_f32(values) if dtype == "bf16" else values

    def __del__(self):
        if self.handle:
            self.lib.mha_kv_cache_destroy(self.handle)


def make_layer_inputs(shape, dtype, seed=0):
    """Weights (nn.Linear layout, scaled by 1/sqrt(in_features)), x [B, L, E] and, for
    decode, the cached (k, v) [B, kv_len - 1, Hkv, D]; for bf16 all bf16 values."""
    rng = np.random.default_rng(seed)
    e, q, kv = shape["d_model"], shape["heads"] * shape["head_dim"], \
        shape["kv_heads"] * shape["head_dim"]
    rounded = (lambda a: mha_ctypes.f32_from_bf16(mha_ctypes.bf16_from_f32(a))) \
        if dtype == "bf16" else (lambda a: a)

    def uniform(*dims, scale=1.0):
        return rounded(rng.uniform(-scale, scale, dims).astype(np.float32))
    weights = {"wq": uniform(q, e, scale=e ** -0.5), "wk": uniform(kv, e, scale=e ** -0.5),
               "wv": uniform(kv, e, scale=e ** -0.5), "wo": uniform(e, q, scale=q ** -0.5)}
    for name, n in (("bq", q), ("bk", kv), ("bv", kv), ("bo", e)):
        weights[name] = uniform(n, scale=0.1) if shape["bias"] else None
    x = uniform(shape["batch"], shape["len"], e)
    cache = None
    if shape["kv_len"]:
        dims = (shape["batch"], shape["kv_len"] - 1, shape["kv_heads"], shape["head_dim"])
        cache = uniform(*dims), uniform(*dims)
    return weights, x, cache


def mha_layer_runners(library, shape, dtype, weights, x, cache, threads, skipped):
    """One runner per available mha backend, all sharing one KV cache for decode."""
    runners = []
    kv_cache = KvCache(library, *cache, dtype) if cache else None
    for name, ctx in mha_contexts(library, shape, threads, skipped):
        try:
            run = MhaLayer(ctx, shape, dtype, weights).forward_fn(x, dtype, kv_cache)
            run()
        except mha_ctypes.MhaError as e:
            skipped.append({"runner": name, "reason": str(e)})
            continue
        runners.append((f"{name}:{ctx.isa}", run, "mha"))
    return runners


def measure_layers(library, shapes, args, progress, report):
    peers = []
    for cls in peer_runners.ALL_LAYER_PEERS:
        try:
            peers.append(cls(args.threads))
        except peer_runners.Unavailable as e:
            report["unavailable"].append({"peer": cls.name, "reason": str(e)})
    layer = report["layer"] = {"cases": [], "ratios": []}
    for shape in shapes:
        for dtype in shape["dtypes"]:
            progress.advance(f"{shape['id']} {dtype}")
            weights, x, cache = make_layer_inputs(shape, dtype)
            skipped = []
            runners = mha_layer_runners(library, shape, dtype, weights, x, cache,
                                        args.threads, skipped)
            runners += peer_runners_for(peers, skipped, shape, dtype, weights, x, cache)
            results = measure(shape, dtype, runners, args, progress)
            layer["cases"].append({"shape": shape["id"], "dtype": dtype,
                                   "flops": shape["flops"], "results": results,
                                   "skipped": skipped})
            layer["ratios"] += ratios(shape, dtype, results)


def main():
    args = parse_args()
    os.environ.pop("OPENBLAS_CORETYPE", None)  # let peers use their best kernels
    library = mha_ctypes.Library(args.lib)
    shapes, layer_shapes = load_shapes(args)
    peers, unavailable = [], []
    for cls in peer_runners.ALL_PEERS:
        try:
            peers.append(cls(args.threads))
        except peer_runners.Unavailable as e:
            unavailable.append({"peer": cls.name, "reason": str(e)})
            print(f"peers: skipping {cls.name}: {e}", file=sys.stderr)
    report = {"threads": args.threads, "reps": args.reps,
              "runner_budget_s": args.runner_budget_s, "unavailable": unavailable,
              "cases": [], "ratios": []}
    dtypes = ["f32", "bf16"]
    progress = Progress("peers", len(shapes) * len(dtypes) +
                        sum(len(s["dtypes"]) for s in layer_shapes))
    for shape in shapes:
        q, k, v = make_inputs(shape)
        for dtype in dtypes:
            progress.advance(f"{shape['id']} {dtype}")
            if dtype == "bf16":  # everyone sees the same bf16-representable values
                q, k, v = (mha_ctypes.f32_from_bf16(mha_ctypes.bf16_from_f32(x))
                           for x in (q, k, v))
            skipped = []
            runners = mha_runners(library, shape, dtype, q, k, v, args.threads, skipped)
            runners += peer_runners_for(peers, skipped, shape, dtype, q, k, v)
            results = measure(shape, dtype, runners, args, progress)
            report["cases"].append({"shape": shape["id"], "dtype": dtype,
                                    "flops": shape["flops"], "results": results,
                                    "skipped": skipped})
            report["ratios"] += ratios(shape, dtype, results)
    measure_layers(library, layer_shapes, args, progress, report)
    progress.done()
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
