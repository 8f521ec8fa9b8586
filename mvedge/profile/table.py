"""Text tables of profile results: one result in detail, or many side by side."""

from __future__ import annotations

from mvedge.profile.schema import ProfileResult


def _ms(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _grid(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def format_result(result: ProfileResult, top: int = 12) -> str:
    """The profile of one artifact: summary lines, then its heaviest operators."""
    dev = result.device
    lat = result.latency_ms
    lines = [
        ("artifact", f"{result.artifact} ({result.target} {result.precision or '?'})"),
        ("runtime", f"{result.runtime}, delegate {result.delegate}"),
        ("device", f"{dev.model} ({dev.platform}, {dev.os}{', ' + dev.abi if dev.abi else ''}) via {dev.source}"),
        ("threads", str(result.threads) if result.threads is not None else "runtime default"),
        ("runs", f"{result.runs} timed after {result.warmup} warm-up"),
        ("load", f"{_ms(result.load_ms)} ms"),
        ("latency", f"p50 {_ms(lat.get('p50'))} ms, p90 {_ms(lat.get('p90'))} ms, min {_ms(lat.get('min'))} ms, mean {_ms(lat.get('mean'))} ms"),
        ("throughput", f"{result.throughput_fps:.1f} images/s (batch 1, at p50)"),
        ("peak memory", f"{result.peak_memory_mb:.1f} MiB" if result.peak_memory_mb is not None else "-"),
    ]
    width = max(len(k) for k, _ in lines)
    text = "\n".join(f"{k.ljust(width)}  {v}" for k, v in lines)
    if result.operators:
        rows = [["operator", "ms", "share"]]
        for op in result.operators[:top]:
            rows.append([op["name"], f"{op['ms']:.3f}", f"{100 * op['share']:.1f}%"])
        if len(result.operators) > top:
            rest = result.operators[top:]
            rows.append([f"({len(rest)} more)", f"{sum(o['ms'] for o in rest):.3f}", f"{100 * sum(o['share'] for o in rest):.1f}%"])
        text += "\n\nper-operator breakdown (mean per run)\n" + _grid(rows)
    for note in result.notes:
        text += f"\nnote: {note}"
    return text


COMPARE_HEADER = ["artifact", "target", "precision", "device", "source", "threads", "load ms", "p50 ms", "p90 ms", "min ms", "FPS", "peak MiB"]


def format_results(results: list[ProfileResult]) -> str:
    """Many results (host, phones, device farms) in one table."""
    rows = [list(COMPARE_HEADER)]
    for r in results:
        lat = r.latency_ms
        rows.append(
            [
                r.artifact,
                r.target,
                r.precision or "-",
                r.device.model,
                r.device.source,
                str(r.threads) if r.threads is not None else "-",
                _ms(r.load_ms),
                _ms(lat.get("p50")),
                _ms(lat.get("p90")),
                _ms(lat.get("min")),
                f"{r.throughput_fps:.1f}",
                f"{r.peak_memory_mb:.1f}" if r.peak_memory_mb is not None else "-",
            ]
        )
    return _grid(rows)
