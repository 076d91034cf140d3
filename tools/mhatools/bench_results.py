"""Reads mha_bench's Google Benchmark JSON into plain records."""
import json


def load(path):
    """Returns (context, records). A record: backend, isa, shape, dtype, threads, and
    either the figures (ms, gflops, pct_peak, kv_gbs, pct_bw, extra_mib) or error."""
    with open(path) as f:
        data = json.load(f)
    records = []
    for b in data.get("benchmarks", []):
        parts = b.get("run_name", b["name"]).split("/")
        if parts[0] == "ceilings":
            continue
        if len(parts) == 2 and parts[1] == "unavailable":
            records.append({"backend": parts[0], "isa": "-", "shape": "*", "dtype": "*",
                            "threads": 0, "error": b.get("error_message", "")})
            continue
        backend, isa, shape, dtype, threads = parts[:5]
        r = {"backend": backend, "isa": isa, "shape": shape, "dtype": dtype,
             "threads": int(threads.split(":")[1])}
        if b.get("error_occurred"):
            r["error"] = b.get("error_message", "")
        else:
            scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
            r.update(ms=b["real_time"] * scale, gflops=b.get("GFLOP/s"),
                     pct_peak=b.get("pct_fma_peak"), kv_gbs=b.get("KV_GB/s"),
                     pct_bw=b.get("pct_read_bw"), extra_mib=b.get("extra_MiB"))
        records.append(r)
    return data.get("context", {}), records


CEILINGS = (("fma_f32_gflops", "fma"), ("dot_bf16_gflops", "bf16"), ("read_gbs", "read"))


def ceilings(path):
    """{threads: {"fma": GFLOP/s, "bf16": GFLOP/s, "read": GB/s}}: the better of the
    measurements before (the run's context) and after the benchmarks (ceilings/end)."""
    with open(path) as f:
        data = json.load(f)
    out = {}

    def keep(threads, name, value):
        c = out.setdefault(threads, {})
        c[name] = max(c.get(name, 0.0), float(value))

    for key, value in data.get("context", {}).items():
        for prefix, name in CEILINGS:
            if key.startswith(prefix + "_threads_"):
                keep(int(key.rsplit("_", 1)[1]), name, value)
    for b in data.get("benchmarks", []):
        if b["name"].startswith("ceilings/end/"):
            threads = int(b["name"].split(":")[1].split("/")[0])
            for counter, name in CEILINGS:
                keep(threads, name, b[counter])
    return dict(sorted(out.items()))


def apply_ceilings(records, ceil):
    """Sets each record's percentages of the ceilings of its thread count."""
    for r in records:
        c = ceil.get(r["threads"])
        if c and r.get("gflops") is not None:
            r["pct_peak"] = 100.0 * r["gflops"] / c["fma"]
            if r.get("kv_gbs") is not None:
                r["pct_bw"] = 100.0 * r["kv_gbs"] / c["read"]


def best_isa(records, backend):
    """The ISA a backend ran at its best level: the first one mha_bench registered."""
    for r in records:
        if r["backend"] == backend and r["isa"] != "-":
            return r["isa"]
    return None
