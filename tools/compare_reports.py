#!/usr/bin/env python3
"""Puts two benchmark reports side by side, as Markdown on stdout.

  compare_reports.py reports/<cpu-a> reports/<cpu-b> [--threads 1]

For each backend (at its best ISA level in each report), shape and dtype: the figure on
A and on B, B/A, and each as a percentage of its own machine's ceiling, so a laptop and
a server can be compared by how much of their silicon they use.
"""
import argparse
import json
import pathlib

from mhatools import bench_results
from mhatools.report_markdown import table


def load(report_dir):
    data = pathlib.Path(report_dir) / "data"
    info = json.loads((data / "info.json").read_text())
    _, records = bench_results.load(data / "bench.json")
    ceil = bench_results.ceilings(data / "bench.json")
    bench_results.apply_ceilings(records, ceil)
    return info, ceil, records


def best_figures(records, threads):
    """{(backend, shape, dtype): record} at each backend's best ISA level."""
    best = {}
    for r in records:
        if r["threads"] == threads and "error" not in r and \
                r["isa"] == bench_results.best_isa(records, r["backend"]):
            best[(r["backend"], r["shape"], r["dtype"])] = r
    return best


def figure(r):
    """(value, unit, percent of ceiling) of a record."""
    if r.get("kv_gbs") is not None:
        return r["kv_gbs"], "GB/s", r["pct_bw"]
    return r["gflops"], "GFLOP/s", r["pct_peak"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    info_a, ceil_a, rec_a = load(args.a)
    info_b, ceil_b, rec_b = load(args.b)
    name_a, name_b = info_a["cpu"]["model"], info_b["cpu"]["model"]
    print(f"# {name_a} (A) vs {name_b} (B), {args.threads} thread(s)\n")
    ca, cb = ceil_a.get(args.threads, {}), ceil_b.get(args.threads, {})
    def fmt(c, key):
        return f"{c[key]:.1f}" if c.get(key) else "n/a"
    rows = [[label, fmt(ca, key), fmt(cb, key)]
            for label, key in (("f32 FMA GFLOP/s", "fma"), ("bf16 dot GFLOP/s", "bf16"),
                               ("read GB/s", "read"))]
    print(table(["ceiling", "A", "B"], rows))
    fa, fb = best_figures(rec_a, args.threads), best_figures(rec_b, args.threads)
    rows = []
    for key in [k for k in fa if k in fb]:
        (va, unit, pa), (vb, _, pb) = figure(fa[key]), figure(fb[key])
        rows.append([*key, unit, f"{va:.1f}", f"{vb:.1f}", f"{vb / va:.2f}x",
                     f"{pa:.0f}%", f"{pb:.0f}%"])
    print(table(["backend", "shape", "dtype", "unit", "A", "B", "B/A", "A % ceiling",
                 "B % ceiling"], rows))
    only = sorted(set(fa) ^ set(fb))
    if only:
        print("In one report only: " + ", ".join("/".join(k) for k in only))


if __name__ == "__main__":
    main()
