#!/usr/bin/env python3
"""Runs mha (through its C API) and peer libraries on the same numpy buffers.

For each shape and dtype, every mha backend and every installed peer runs alternately,
rep after rep, so that drift on a noisy machine hits all of them alike. Reports the
median time of each, GFLOP/s, the speed-up of mha over each peer (peer time / mha
time, > 1 means mha is faster), and the largest absolute difference from mha's output.

  peers.py --lib build-report/lib/libmha.so --bench build-report/bin/mha_bench \\
           [--quick | --shapes tiny,bert] [--threads 1] [--reps 5] --out peers.json
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import mha_ctypes
import peer_runners
from progress import Progress

# Standard shapes the peers skip unless named with --shapes: minutes per repetition.
SLOW_SHAPES = {"long"}
REFERENCE_MAX_FLOPS = 0.1e9  # the scalar reference only runs tiny problems


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
    sets = json.loads(subprocess.check_output([args.bench, "--print_shapes"]))
    everything = {s["id"]: s for s in sets["standard"] + sets["quick"]}
    if args.shapes:
        return [everything[i] for i in args.shapes.split(",")]
    if args.quick:
        return sets["quick"]
    return [s for s in sets["standard"] if s["id"] not in SLOW_SHAPES]


def make_inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    b, lq, lk, d = shape["batch"], shape["q_len"], shape["kv_len"], shape["head_dim"]
    q = rng.uniform(-1, 1, (b, lq, shape["num_heads"], d)).astype(np.float32)
    k = rng.uniform(-1, 1, (b, lk, shape["num_kv_heads"], d)).astype(np.float32)
    v = rng.uniform(-1, 1, (b, lk, shape["num_kv_heads"], d)).astype(np.float32)
    return q, k, v


def mha_runners(library, shape, dtype, q, k, v, threads, skipped):
    """One runner per available mha backend: (name, callable returning f32 output)."""
    runners = []
    for backend in library.backends():
        name = f"mha-{backend}"
        if backend == "reference" and shape["flops"] > REFERENCE_MAX_FLOPS:
            continue
        if not library.available(backend):
            skipped.append({"runner": name, "reason": library.last_error()})
            continue
        ctx = library.context(backend, threads)
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


def peer_runners_for(peers, shape, dtype, q, k, v, skipped):
    runners = []
    for peer in peers:
        try:
            runners.append((peer.name, peer.prepare(shape, dtype, q, k, v), "peer"))
        except peer_runners.Skip as e:
            skipped.append({"runner": peer.name, "reason": str(e)})
        except Exception as e:  # a peer's own failure must not stop the others
            skipped.append({"runner": peer.name, "reason": f"failed: {e}".splitlines()[0]})
    return runners


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
            out = np.asarray(run(), dtype=np.float32)
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


def main():
    args = parse_args()
    os.environ.pop("OPENBLAS_CORETYPE", None)  # let peers use their best kernels
    library = mha_ctypes.Library(args.lib)
    shapes = load_shapes(args)
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
    progress = Progress("peers", len(shapes) * len(dtypes))
    for shape in shapes:
        q, k, v = make_inputs(shape)
        for dtype in dtypes:
            progress.advance(f"{shape['id']} {dtype}")
            if dtype == "bf16":  # everyone sees the same bf16-representable values
                q, k, v = (mha_ctypes.f32_from_bf16(mha_ctypes.bf16_from_f32(x))
                           for x in (q, k, v))
            skipped = []
            runners = mha_runners(library, shape, dtype, q, k, v, args.threads, skipped)
            runners += peer_runners_for(peers, shape, dtype, q, k, v, skipped)
            results = measure(shape, dtype, runners, args, progress)
            report["cases"].append({"shape": shape["id"], "dtype": dtype,
                                    "flops": shape["flops"], "results": results,
                                    "skipped": skipped})
            report["ratios"] += ratios(shape, dtype, results)
    progress.done()
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
