"""Writing reports atomically (temporary file in the same folder, then rename): JSON, CSV, a PNG chart."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Callable

from mvedge import strict_json
from mvedge.atomic import atomic_file

MATPLOTLIB_MISSING = 'the chart needs matplotlib: pip install "mvedge[profile]" -c constraints.txt'


def _atomic(path: Path, suffix: str, write: Callable[[str], None]) -> Path:
    with atomic_file(path, suffix) as tmp:
        write(str(tmp))
    return Path(path)


def write_json(path: str | Path, payload: Any) -> Path:
    """JSON with one-space indent."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as handle:
            handle.write(strict_json.dumps(payload, indent=1) + "\n")

    return _atomic(Path(path), ".json", write)


def write_csv(path: str | Path, header: list[str], rows: list[list[Any]]) -> Path:
    """CSV with a header row."""

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)

    return _atomic(Path(path), ".csv", write)


TARGET_COLOURS = {"coreml": "tab:purple", "tflite": "tab:orange", "executorch": "tab:green", "onnx": "tab:blue"}
PANELS = (("accuracy", "top-1 accuracy"), ("psnr_db", "PSNR vs float (dB)"), ("size_mb", "size (MB)"))
NOT_PROFILED = "not profiled"


def _pyplot():
    """matplotlib's pyplot on the file-only backend; ImportError with the install command."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(MATPLOTLIB_MISSING) from exc
    return plt


def chart_figure(points: list[dict[str, Any]], title: str):
    """The chart as a matplotlib figure: p50 latency (x) against accuracy, PSNR and size, one panel
    each (a panel only when some point has its value; size always), one colour per target with a
    legend. Points without a latency (Core ML on Linux) sit on a "not profiled" tick right of the
    measured ones, drawn hollow. `points`: chart_points' dicts."""
    plt = _pyplot()
    panels = [(key, label) for key, label in PANELS if key == "size_mb" or any(p.get(key) is not None for p in points)]
    latencies = [p["p50_ms"] for p in points if p.get("p50_ms") is not None]
    unprofiled_x = max(latencies) * 1.25 if latencies else 1.0
    targets = list(dict.fromkeys(p["target"] for p in points))
    extra = iter(c for c in plt.rcParams["axes.prop_cycle"].by_key()["color"] if c not in TARGET_COLOURS.values())
    colours = {t: TARGET_COLOURS.get(t) or next(extra, "black") for t in targets}
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5), squeeze=False)
    for axis, (key, label) in zip(axes[0], panels):
        for target in targets:
            shown = [p for p in points if p["target"] == target and p.get(key) is not None]
            measured = [p for p in shown if p.get("p50_ms") is not None]
            unmeasured = [p for p in shown if p.get("p50_ms") is None]
            axis.scatter([p["p50_ms"] for p in measured], [p[key] for p in measured], color=colours[target], label=target)
            axis.scatter([unprofiled_x] * len(unmeasured), [p[key] for p in unmeasured], facecolors="none",
                         edgecolors=colours[target], label=f"_{target} (not profiled)")
            for p in shown:
                x = p["p50_ms"] if p.get("p50_ms") is not None else unprofiled_x
                axis.annotate(p["label"], (x, p[key]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        if len(latencies) < sum(1 for p in points if p.get(key) is not None):
            boundary = (max(latencies) if latencies else 0.0) * 1.12
            axis.set_xlim(0, unprofiled_x * 1.15)
            ticks = [t for t in axis.get_xticks() if 0 <= t < boundary] if latencies else []
            axis.set_xticks([*ticks, unprofiled_x], [f"{t:g}" for t in ticks] + [NOT_PROFILED])
            if latencies:
                axis.axvline(boundary, color="grey", linestyle=":", linewidth=1)
        axis.set_xlabel("p50 latency (ms)")
        axis.set_ylabel(label)
        axis.set_title(f"latency vs {label.split(' (')[0]}")
        axis.grid(True, alpha=0.3)
    axes[0][0].legend(title="target", fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def write_chart(path: str | Path, points: list[dict[str, Any]], title: str) -> Path:
    """chart_figure written as a PNG, atomically. ImportError with the install command when
    matplotlib is missing."""
    plt = _pyplot()
    figure = chart_figure(points, title)

    def write(tmp: str) -> None:
        figure.savefig(tmp, format="png", dpi=110)

    try:
        return _atomic(Path(path), ".png", write)
    finally:
        plt.close(figure)
