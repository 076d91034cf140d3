#!/usr/bin/env python3
"""Runs mha-info, mha_bench and the peers, then writes reports/<cpu>/ with README.md,
the raw JSON (data/) and the plots (PNG and SVG); --quick writes reports/<cpu>-quick/.

  report.py [--quick] [--build build-report] [--no-peers] [--bench-args "..."]
  report.py --render reports/<cpu>       re-render an existing report from its data/
"""
import argparse
import json
import pathlib
import re
import shlex
import subprocess
import sys
import time

from mhatools import bench_results
from mhatools import report_markdown as md
from mhatools.progress import Progress

try:
    from mhatools import report_plots
except ImportError as e:  # matplotlib missing: a report without plots (CI)
    report_plots = None
    PLOTS_MISSING = str(e)

ROOT = pathlib.Path(__file__).resolve().parent.parent

HOW_TO_READ = """\
## How to read this report

- Every mha_bench figure is the mean time per call of one Google Benchmark run (calls
  repeated for at least 0.5 s), named `<backend>/<isa>/<shape>/<dtype>/threads:<n>`.
  Shapes are those of docs/shapes.md in the repository (`--quick`: the small `tiny*`
  shapes); dtypes: `f32`, `bf16` (Q, K, V and O), `f32q-bf16kv` (f32 Q/O over a bf16
  K/V cache).
- Compute-bound cells are `GFLOP/s (% of the f32 FMA peak)`, with FLOPs =
  4·B·Hq·D·(visible query/key pairs); causal shapes count only the visible pairs.
  Decode cells are `GB/s of K/V read (% of the read bandwidth)`, measured over enough
  distinct K/V caches (one per layer) that they do not fit in the last-level cache.
- The peaks are measured in the same run (*Ceilings*): a Highway FMA loop with enough
  independent accumulators for two FMA pipes, a `vdpbf16ps` loop where the CPU has it,
  and a streaming read of 512 MiB. Percentages make reports of different CPUs comparable.
- *Layer* rows time `mha_layer_forward` (bench/layer_bench.cc), named like the others with
  the weights' dtype; their FLOPs add the projections' 2·M·N·K to the attention's.
- `unsupported [n]` means the backend declined the call; note n gives its reason.
- Peers run in one Python process on the same numpy buffers, alternating with mha; the
  speed-up is the peer's median time over mha's (> 1: mha is faster). `max abs diff` is
  against the first mha backend's output.
"""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=str(ROOT / "build-report"))
    p.add_argument("--quick", action="store_true", help="tiny shapes, short runs (CI)")
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--peer-threads", type=int, default=1)
    p.add_argument("--bench-args", default="", help="extra mha_bench flags")
    p.add_argument("--out-root", default=str(ROOT / "reports"))
    p.add_argument("--render", help="re-render this report directory from its data/")
    return p.parse_args()


def slug(info):
    cpu = info["cpu"]
    name = cpu["model"] or "unknown-cpu"
    if cpu.get("arch") == "aarch64" and not cpu["model"]:  # Arm: implementer and part
        name = f"aarch64 {cpu['vendor']} {cpu['model_id']}"
    if not re.search(r"\d", name):  # a VM hiding the model: add family and model ids
        name += f" f{cpu['family']} m{cpu['model_id']}"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def run_bench(bench, args, out_json):
    flags = (["--quick"] if args.quick else []) + shlex.split(args.bench_args)
    listing = subprocess.run([bench, *flags, "--benchmark_list_tests"], check=True,
                             capture_output=True, text=True).stdout.split()
    progress = Progress("mha_bench", len(listing))
    progress.step("measuring the machine's ceilings")
    cmd = [bench, *flags, f"--benchmark_out={out_json}", "--benchmark_out_format=json"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            words = line.split()
            if words and any(words[0].startswith(name) for name in listing):
                progress.advance(words[0])
    progress.done()
    if proc.returncode != 0:
        sys.exit(f"report: {' '.join(cmd)} failed with status {proc.returncode}")
    return " ".join(["mha_bench", *flags])


def measure(args):
    build = pathlib.Path(args.build)
    bench, info_tool = build / "bin" / "mha_bench", build / "bin" / "mha-info"
    info = json.loads(subprocess.check_output([str(info_tool), "--json"]))
    # A quick run never replaces a full report of the same CPU.
    out_dir = pathlib.Path(args.out_root) / (slug(info) + ("-quick" if args.quick else ""))
    data = out_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "info.json").write_text(json.dumps(info, indent=1))
    print(f"report: writing {out_dir}", file=sys.stderr)
    bench_cmd = run_bench(str(bench), args, data / "bench.json")
    peers_json = data / "peers.json"
    if args.no_peers:
        peers_json.unlink(missing_ok=True)
    else:
        cmd = [sys.executable, str(ROOT / "tools" / "peers.py"),
               "--lib", str(build / "lib" / "libmha.so"), "--bench", str(bench),
               "--threads", str(args.peer_threads), "--out", str(peers_json)]
        subprocess.run(cmd + (["--quick"] if args.quick else []), check=True)
    meta = {"command": "tools/run.sh" + (" --quick" if args.quick else ""),
            "bench_command": bench_cmd, "quick": args.quick, "source": source_commit()}
    (data / "meta.json").write_text(json.dumps(meta, indent=1))
    return out_dir


def source_commit():
    """The commit the measured code was built from, '+changes' when the tracked
    sources (reports aside) differ from it; None outside a git checkout."""
    def git(*cmd):
        return subprocess.run(["git", "-C", str(ROOT), *cmd], capture_output=True,
                              text=True, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports")
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+changes" if changed else "")


def layer_records(bench_json, records, ceil):
    """The layer rows of records with their read bandwidth (decode) and percentages of
    the ceilings that bound them: the bf16 dot peak for bf16 weights where the CPU has
    one, else the f32 FMA peak; the read bandwidth for decode."""
    counters = {}
    for b in json.loads(pathlib.Path(bench_json).read_text()).get("benchmarks", []):
        counters["/".join(b.get("run_name", b["name"]).split("/")[:5])] = b
    rows = []
    for r in records:
        if not md.is_layer(r["shape"]):
            continue
        r = dict(r)
        rows.append(r)
        c = ceil.get(r["threads"])
        if "error" in r or not c:
            continue
        b = counters[f"{r['backend']}/{r['isa']}/{r['shape']}/{r['dtype']}/threads:{r['threads']}"]
        peak = c.get("bf16") if r["dtype"] == "bf16" and c.get("bf16") else c["fma"]
        r["pct_peak"] = 100.0 * r["gflops"] / peak
        if b.get("read_GB/s") is not None:
            r["read_gbs"] = b["read_GB/s"]
            r["pct_bw"] = 100.0 * r["read_gbs"] / c["read"]
    return rows


def render(out_dir):
    data = out_dir / "data"
    info = json.loads((data / "info.json").read_text())
    meta = json.loads((data / "meta.json").read_text())
    context, records = bench_results.load(data / "bench.json")
    ceil = bench_results.ceilings(data / "bench.json")
    layer = layer_records(data / "bench.json", records, ceil)
    records = [r for r in records if not md.is_layer(r["shape"])]
    bench_results.apply_ceilings(records, ceil)
    peers = json.loads((data / "peers.json").read_text()) \
        if (data / "peers.json").exists() else None
    notes = md.Notes()
    threads = sorted({r["threads"] for r in records if r["threads"] > 0})
    text = f"# mha benchmark report: {info['cpu']['model']}\n\n"
    text += ("Quick run (CI shapes, short timings). " if meta["quick"] else "") + \
        f"Produced by `{meta['command']}`" + \
        (f" from commit {meta['source']}" if meta.get("source") else "") + ".\n\n"
    if layer:
        text += "## Layer\n\n" + md.layer_section(layer, peers, notes)
    text += "\n## Machine\n\n"
    text += md.machine(info, context, meta["bench_command"])
    text += "\n## Ceilings (this run: the better of before and after the benchmarks)\n\n"
    text += md.ceilings_table(ceil)
    for t in threads:
        text += f"\n## Summary, {t} thread(s), each backend at its best ISA\n\n"
        text += md.summary(records, t, notes, peers)
    isa = md.isa_levels(records, notes)
    if isa:
        text += "\n## ISA levels (MHA_MAX_ISA)\n" + isa
    if peers:
        text += f"\n## Peers, {peers['threads']} thread(s), medians of {peers['reps']} reps"
        if "runner_budget_s" in peers:
            text += f" (fewer where {peers['reps']} would take over {peers['runner_budget_s']:.0f} s)"
        text += "\n\n"
        text += md.peers_section(peers, notes)
    unavailable = [r for r in records if r["shape"] == "*"]
    for r in unavailable:
        text += f"\nBackend {r['backend']} could not run: {r['error']}\n"
    if report_plots is None:
        print(f"report: no plots ({PLOTS_MISSING})", file=sys.stderr)
        plots = []
    else:
        plots = report_plots.gflops(records, ceil, out_dir) + \
            report_plots.decode(records, ceil, out_dir) + report_plots.peers(peers, out_dir)
    if plots:
        text += "\n## Plots\n\n" + "".join(
            f"![{p}]({p})\n" for p in plots if p.endswith(".png"))
    if notes.reasons:
        text += "\n## Notes\n\n" + notes.markdown()
    text += "\n" + HOW_TO_READ
    (out_dir / "README.md").write_text(text)
    return out_dir / "README.md"


def main():
    args = parse_args()
    start = time.monotonic()
    out_dir = pathlib.Path(args.render) if args.render else measure(args)
    readme = render(out_dir)
    print(f"report: {readme} ({time.monotonic() - start:.0f}s)", file=sys.stderr)


if __name__ == "__main__":
    main()
