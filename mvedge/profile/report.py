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


def write_chart(path: str | Path, points: list[dict[str, Any]], title: str) -> Path:
    """Latency against accuracy, against PSNR and against size, one labelled point per artifact
    (`points`: dicts with label, p50_ms, size_mb, accuracy, psnr_db; None where unknown).
    ImportError with the install command when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(MATPLOTLIB_MISSING) from exc
    points = [p for p in points if p.get("p50_ms") is not None]
    panels = [  # a panel whose values are all equal (e.g. every artifact at 100% accuracy) says nothing
        (key, label)
        for key, label in (("accuracy", "top-1 accuracy"), ("psnr_db", "PSNR vs float (dB)"), ("size_mb", "size (MB)"))
        if len({p[key] for p in points if p.get(key) is not None}) > 1 or (key == "size_mb")
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5), squeeze=False)
    for axis, (key, label) in zip(axes[0], panels):
        shown = [p for p in points if p.get(key) is not None]
        axis.scatter([p["p50_ms"] for p in shown], [p[key] for p in shown], color="tab:blue")
        for p in shown:
            axis.annotate(p["label"], (p["p50_ms"], p[key]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        axis.set_xlabel("p50 latency (ms)")
        axis.set_ylabel(label)
        axis.set_title(f"latency vs {label.split(' (')[0]}")
        axis.grid(True, alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()

    def write(tmp: str) -> None:
        figure.savefig(tmp, format="png", dpi=110)

    try:
        return _atomic(Path(path), ".png", write)
    finally:
        plt.close(figure)
