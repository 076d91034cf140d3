"""The Markdown of a benchmark report: tables padded so they read well in a terminal."""
from . import bench_results


class Notes:
    """Numbered footnotes for cells that hold a reason instead of a figure."""

    def __init__(self):
        self.reasons = []

    def ref(self, reason):
        if reason not in self.reasons:
            self.reasons.append(reason)
        return f"[{self.reasons.index(reason) + 1}]"

    def markdown(self):
        return "".join(f"{i + 1}. {r}\n" for i, r in enumerate(self.reasons))


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |\n"
    return line(headers) + line(["-" * w for w in widths]) + "".join(line(r) for r in rows)


def _cell(r, notes):
    if r is None:
        return "-"
    if "error" in r:
        short = "unsupported" if "UNSUPPORTED" in r["error"] else "error"
        return f"{short} {notes.ref(r['error'])}"
    if r.get("kv_gbs") is not None:
        return f"{r['kv_gbs']:.1f} GB/s ({r['pct_bw']:.0f}%)"
    return f"{r['gflops']:.1f} ({r['pct_peak']:.0f}%)"


def _self_check(checks):
    """mha-info's small checked calls, e.g. 'prefill-causal-gqa/f32 ok (err 1.2e-07)'."""
    parts = []
    for name, c in checks.items():
        if "error" in c:
            parts.append(f"{name} failed: {c['error']}")
        else:
            verdict = "ok" if c["ok"] else f"WRONG (tolerance {c['tolerance']:.0e})"
            parts.append(f"{name} {verdict} (err {c['max_abs_err']:.1e})")
    return ", ".join(parts)


def machine(info, context, command):
    cpu = info["cpu"]
    lines = [f"- **CPU**: {cpu['model']} (vendor {cpu['vendor']}, family {cpu['family']}, "
             f"model {cpu['model_id']}), {cpu['logical_cpus']} logical CPUs",
             f"- **Flags**: {' '.join(cpu['flags']) or '(none of interest)'}" +
             (f"; SVE vectors of {cpu['sve_vector_bits']} bits"
              if cpu.get("sve_vector_bits") else ""),
             "- **Caches**: " + ", ".join(f"{k} {v}" for k, v in cpu["caches"].items()),
             f"- **Highway**: supported {' '.join(info['highway']['supported'])}; "
             f"chosen {info['highway']['chosen']}",
             f"- **mha** {info['mha_version']}, OpenMP threads "
             f"{info['openmp']['max_threads']}, run on {context.get('date', '?')}",
             f"- **Command**: `{command}`"]
    for b in info["backends"]:
        state = f"ISA {b['isa']}" if b.get("available") and "isa" in b else \
            f"not available: {b.get('reason', '?')}"
        version = b.get("version") or b.get("module_version")  # older reports: the latter
        if version:
            state += f", version {version}"
        if b.get("self_check"):
            state += "; self-check against the reference: " + _self_check(b["self_check"])
        lines.append(f"- backend **{b['name']}**: {state}")
    env = info.get("env") or {}
    if env:
        lines.append("- **Environment**: " + ", ".join(f"`{k}={v}`" for k, v in env.items()))
    return "\n".join(lines) + "\n"


def ceilings_table(ceil):
    rows = [[t, f"{c.get('fma', 0):.1f}", f"{c.get('bf16', 0):.1f}" if c.get("bf16") else
             "n/a (no AVX512_BF16)", f"{c.get('read', 0):.1f}"] for t, c in ceil.items()]
    return table(["threads", "f32 FMA GFLOP/s", "bf16 dot GFLOP/s", "read GB/s"], rows)


def _shape_order(records):
    seen = []
    for r in records:
        if r["shape"] != "*" and (r["shape"], r["dtype"]) not in seen:
            seen.append((r["shape"], r["dtype"]))
    return seen


def _best_peer(peers, shape, dtype):
    """(peer name, speed-up of the fastest mha over the fastest peer) or None."""
    if not peers:
        return None
    for case in peers["cases"]:
        if case["shape"] == shape and case["dtype"] == dtype:
            res = {n: r for n, r in case["results"].items() if "median_ms" in r}
            mha = [r["median_ms"] for r in res.values() if r["kind"] == "mha"]
            peer = [(r["median_ms"], n) for n, r in res.items() if r["kind"] == "peer"]
            if mha and peer:
                best_ms, best_name = min(peer)
                return best_name, best_ms / min(mha)
    return None


def summary(records, threads, notes, peers=None):
    """Backends at their best ISA level for one thread count, one row per shape x dtype."""
    backends = []
    for r in records:
        if r["isa"] != "-" and r["backend"] not in backends:
            backends.append(r["backend"])
    columns = [(b, bench_results.best_isa(records, b)) for b in backends]
    index = {(r["backend"], r["isa"], r["shape"], r["dtype"], r["threads"]): r
             for r in records}
    with_peers = peers is not None and peers.get("threads") == threads
    headers = ["shape", "dtype"] + [f"{b}:{isa}" for b, isa in columns]
    if with_peers:
        headers += ["fastest peer", "fastest mha vs it"]
    rows = []
    for shape, dtype in _shape_order(records):
        row = [shape, dtype] + [_cell(index.get((b, isa, shape, dtype, threads)), notes)
                                for b, isa in columns]
        if all(c == "-" for c in row[2:]):
            continue
        if with_peers:
            best = _best_peer(peers, shape, dtype)
            row += [best[0], f"{best[1]:.2f}x"] if best else ["-", "-"]
        rows.append(row)
    return table(headers, rows)


def isa_levels(records, notes):
    """Each backend that ran at several ISA levels, 1 thread: one column per level."""
    out = ""
    for backend in dict.fromkeys(r["backend"] for r in records):
        isas = list(dict.fromkeys(r["isa"] for r in records
                                  if r["backend"] == backend and r["isa"] != "-"))
        if len(isas) < 2:
            continue
        index = {(r["isa"], r["shape"], r["dtype"]): r for r in records
                 if r["backend"] == backend and r["threads"] == 1}
        rows = []
        for shape, dtype in _shape_order(records):
            cells = [_cell(index.get((isa, shape, dtype)), notes) for isa in isas]
            if any(c != "-" for c in cells[1:]):
                rows.append([shape, dtype] + cells)
        out += f"\n**{backend}**, 1 thread\n\n" + table(["shape", "dtype"] + isas, rows)
    return out


def peers_section(peers, notes):
    rows = []
    for case in peers["cases"]:
        for name, r in case["results"].items():
            if "median_ms" in r:
                rows.append([case["shape"], case["dtype"], name, f"{r['median_ms']:.3f}",
                             str(len(r["times_ms"])), f"{r['gflops']:.1f}",
                             f"{r['max_abs_diff']:.1e}"])
            else:
                rows.append([case["shape"], case["dtype"], name, "error", "-",
                             notes.ref(r.get("error", "?")), "-"])
    text = table(["shape", "dtype", "runner", "median ms", "reps", "GFLOP/s", "max abs diff"],
                 rows)
    ratio_rows = [[x["shape"], x["dtype"], x["mha"], x["peer"], f"{x['speedup']:.2f}x"]
                  for x in peers["ratios"]]
    if ratio_rows:
        text += "\nmha speed-up over each peer (peer time / mha time; > 1: mha is faster)\n\n"
        text += table(["shape", "dtype", "mha", "peer", "speed-up"], ratio_rows)
    skipped = {}
    for case in peers["cases"]:
        for s in case["skipped"]:
            skipped.setdefault((s["runner"], s["reason"]), []).append(
                f"{case['shape']}/{case['dtype']}")
    lines = [f"- {p['peer']}: {p['reason']}" for p in peers["unavailable"]]
    lines += [f"- {runner} on {', '.join(cases)}: {reason}"
              for (runner, reason), cases in skipped.items()]
    if lines:
        text += "\nNot run:\n\n" + "\n".join(lines) + "\n"
    return text


# ---- The whole layer ----------------------------------------------------------------------

def is_layer(shape):
    """Whether a shape id is one of the layer shapes (bench/layer_bench.cc)."""
    return shape.endswith("-layer") or "-layer-" in shape


def _layer_cell(r, notes):
    if r is None:
        return "-"
    if "error" in r:
        return _cell(r, notes)
    cell = f"{r['gflops']:.1f} ({r['pct_peak']:.0f}%)"
    if r.get("read_gbs") is not None:
        cell += f", {r['read_gbs']:.1f} GB/s ({r['pct_bw']:.0f}%)"
    return cell


def layer_table(records, threads, notes):
    """The layer rows of one thread count: one column per backend, one row per shape and
    weight dtype."""
    columns = list(dict.fromkeys((r["backend"], r["isa"]) for r in records))
    index = {(r["backend"], r["isa"], r["shape"], r["dtype"], r["threads"]): r
             for r in records}
    rows = []
    for shape, dtype in _shape_order(records):
        cells = [_layer_cell(index.get((b, isa, shape, dtype, threads)), notes)
                 for b, isa in columns]
        if any(c != "-" for c in cells):
            rows.append([shape, dtype] + cells)
    return table(["shape", "weights"] + [f"{b}:{isa}" for b, isa in columns], rows)


def layer_peers(layer, notes):
    """Every runner of each layer case: GFLOP/s, the difference from the first mha
    backend's output, and for mha's runners the speed-up over each peer."""
    peers = list(dict.fromkeys(x["peer"] for x in layer["ratios"]))
    speedup = {(x["shape"], x["dtype"], x["mha"], x["peer"]): x["speedup"]
               for x in layer["ratios"]}
    rows = []
    for case in layer["cases"]:
        for name, r in case["results"].items():
            if name.startswith("mha-reference"):
                continue
            row = [case["shape"], case["dtype"], name]
            if "median_ms" not in r:
                rows.append(row + ["error " + notes.ref(r.get("error", "?")), "-"] +
                            ["-"] * len(peers))
                continue
            row += [f"{r['gflops']:.1f}", f"{r['max_abs_diff']:.1e}"]
            for p in peers:
                x = speedup.get((case["shape"], case["dtype"], name, p))
                row.append("-" if x is None else f"{x:.2f}x")
            rows.append(row)
    return table(["shape", "dtype", "runner", "GFLOP/s", "max abs diff"] +
                 [f"vs {p}" for p in peers], rows)


def layer_section(records, peers, notes):
    """The Layer section: the layer rows per thread count, then the peers."""
    text = ("`mha_layer_forward`, the whole layer: Q/K/V projections, RoPE, attention and "
            "the output projection. Cells are `GFLOP/s (% of peak)` with FLOPs = 2·M·N·K "
            "per projection + 4·B·Hq·D·(visible pairs); the peak is the same run's bf16 "
            "dot peak for bf16 weights (where the CPU has one), else the f32 FMA peak. "
            "Decode cells add `GB/s (% of the read bandwidth)` of the weights and K/V "
            "cache read per step. bf16 rows are bf16 throughout (weights, x, out, "
            "activations, cache).\n")
    for t in sorted({r["threads"] for r in records}):
        text += f"\n**{t} thread(s)**\n\n" + layer_table(records, t, notes)
    layer = (peers or {}).get("layer")
    if layer and layer["cases"]:
        text += (f"\n**Against peers**, {peers['threads']} thread(s), medians of "
                 f"{peers['reps']} reps; `vs` columns are peer time / mha time (> 1: mha "
                 "is faster)\n\n" + layer_peers(layer, notes))
        skipped = {}
        for case in layer["cases"]:
            for s in case["skipped"]:
                skipped.setdefault((s["runner"], s["reason"]), []).append(
                    f"{case['shape']}/{case['dtype']}")
        if skipped:
            text += "\nNot run:\n\n" + "".join(
                f"- {runner} on {', '.join(cases)}: {reason}\n"
                for (runner, reason), cases in skipped.items())
    return text
