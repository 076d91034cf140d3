"""The plots of a benchmark report, each written as PNG and SVG."""
import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "mha"  # the same plot gives the same SVG
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig, out_dir, name):
    fig.tight_layout()
    fig.savefig(out_dir / f"{name}.png", dpi=110)
    fig.savefig(out_dir / f"{name}.svg", metadata={"Date": None})
    plt.close(fig)
    return [f"{name}.png", f"{name}.svg"]


def _bars(ax, groups, series, values):
    """Grouped bars: values[(group, series)] -> height; missing pairs are left empty."""
    width = 0.8 / max(1, len(series))
    for i, s in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [values.get((g, s), float("nan")) for g in groups], width, label=s)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=20, ha="right")


def _ceiling_bars(rs, group_of, value, ceiling, ceiling_label, ylabel, title, out_dir, name):
    """Bars of r[value] per group and backend:ISA, with a machine ceiling as a dashed line
    (ceiling_label formats it)."""
    def series_of(r):
        return f"{r['backend']}:{r['isa']}"
    groups = list(dict.fromkeys(group_of(r) for r in rs))
    series = list(dict.fromkeys(series_of(r) for r in rs))
    values = {(group_of(r), series_of(r)): r[value] for r in rs}
    fig, ax = plt.subplots(figsize=(9, 4.5))
    _bars(ax, groups, series, values)
    if ceiling:
        ax.axhline(ceiling, color="black", linestyle="--", label=ceiling_label.format(ceiling))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, out_dir, name)


def gflops(records, ceil, out_dir, dtype="f32", threads=1):
    """Compute-bound shapes: GFLOP/s per backend:ISA, with the measured FMA peak."""
    rs = [r for r in records if r["dtype"] == dtype and r["threads"] == threads
          and "gflops" in r and r.get("kv_gbs") is None]
    if not rs:
        return []
    return _ceiling_bars(rs, lambda r: r["shape"], "gflops",
                         ceil.get(threads, {}).get("fma"), "f32 FMA peak {:.0f}", "GFLOP/s",
                         f"Attention throughput, {dtype}, {threads} thread(s)", out_dir,
                         "gflops")


def decode(records, ceil, out_dir, threads=1):
    """K/V-bound shapes: GB/s of K/V per backend and dtype, with the read bandwidth."""
    rs = [r for r in records if r["threads"] == threads and r.get("kv_gbs") is not None]
    if not rs:
        return []
    return _ceiling_bars(rs, lambda r: f"{r['shape']}\n{r['dtype']}", "kv_gbs",
                         ceil.get(threads, {}).get("read"), "read bandwidth {:.0f} GB/s",
                         "GB/s of K/V", f"Decode: K/V streamed per second, {threads} thread(s)",
                         out_dir, "decode")


def peers(peer_report, out_dir):
    """mha speed-up over each peer, per shape and dtype (log scale, 1 = parity); the
    scalar reference is left out."""
    ratios = [x for x in (peer_report or {}).get("ratios", [])
              if not x["mha"].startswith("mha-reference")]
    if not ratios:
        return []
    groups = list(dict.fromkeys(f"{x['shape']}\n{x['dtype']}" for x in ratios))
    series = list(dict.fromkeys(f"{x['mha']} vs {x['peer']}" for x in ratios))
    values = {(f"{x['shape']}\n{x['dtype']}", f"{x['mha']} vs {x['peer']}"): x["speedup"]
              for x in ratios}
    fig, ax = plt.subplots(figsize=(9, 4.5))
    _bars(ax, groups, series, values)
    ax.set_yscale("log")
    ax.axhline(1.0, color="black", linestyle="--")
    ax.set_ylabel("peer time / mha time (> 1: mha faster)")
    ax.set_title(f"mha vs peers, {peer_report['threads']} thread(s)")
    ax.legend(fontsize=7)
    return _save(fig, out_dir, "peers")
