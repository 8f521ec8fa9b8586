"""The benchmark chart: latency against accuracy, PSNR and size, every verified row (Core ML's
without latency on the "not profiled" mark), one colour per target with a legend."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvedge.profile.matrix import CORE_ML_NOT_PROFILED, BenchmarkRow, chart_points

pytest.importorskip("matplotlib")


def rows() -> list[BenchmarkRow]:
    return [
        BenchmarkRow("coreml", "fp16", "verified", CORE_ML_NOT_PROFILED, size_mb=1.0, accuracy=0.95, psnr_db=45.0, artifact="a.mlpackage"),
        BenchmarkRow("coreml", "int8", "verified", CORE_ML_NOT_PROFILED, size_mb=0.5, accuracy=0.93, psnr_db=25.0, artifact="b.mlpackage"),
        BenchmarkRow("onnx", "fp32", "verified", size_mb=2.0, accuracy=0.95, psnr_db=float("inf"), p50_ms=3.0, artifact="c.onnx"),
        BenchmarkRow("tflite", "int8", "verified", size_mb=0.6, accuracy=0.94, psnr_db=30.0, p50_ms=1.5, artifact="d.tflite"),
        BenchmarkRow("executorch", "fp32", "failed", note="boom"),
        BenchmarkRow("tflite", "fp32", "skipped", note="not installed"),
    ]


def test_chart_points_take_every_artifact_profiled_or_not() -> None:
    points = chart_points(rows())
    assert [(p["target"], p["precision"], p["p50_ms"]) for p in points] == [
        ("coreml", "fp16", None), ("coreml", "int8", None), ("onnx", "fp32", 3.0), ("tflite", "int8", 1.5),
    ]
    assert points[0]["accuracy"] == 0.95 and points[0]["size_mb"] == 1.0 and points[0]["label"] == "coreml fp16"
    assert points[2]["psnr_db"] is None  # identical outputs: no finite PSNR to plot


def test_the_chart_plots_latency_against_accuracy_psnr_and_size_with_a_colour_per_target(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from mvedge.profile.report import chart_figure, write_chart

    figure = chart_figure(chart_points(rows()), "title")
    try:
        axes = figure.axes
        assert [a.get_ylabel() for a in axes] == ["top-1 accuracy", "PSNR vs float (dB)", "size (MB)"]
        assert all(a.get_xlabel() == "p50 latency (ms)" for a in axes)
        accuracy = axes[0]
        plotted = sorted((round(float(x), 3), round(float(y), 3)) for c in accuracy.collections for x, y in c.get_offsets())
        assert len(plotted) == 4 and {y for _, y in plotted} == {0.93, 0.94, 0.95}
        # the Core ML points sit on the "not profiled" tick, right of every measured latency
        labels = [t.get_text() for t in accuracy.get_xticklabels()]
        assert "not profiled" in labels
        not_profiled = accuracy.get_xticks()[labels.index("not profiled")]
        assert not_profiled > 3.0 and sum(1 for x, _ in plotted if x == round(float(not_profiled), 3)) == 2
        # one colour per target, named in the legend
        legend = accuracy.get_legend()
        assert legend is not None and sorted(t.get_text() for t in legend.get_texts()) == ["coreml", "onnx", "tflite"]
        colours = {}
        for collection in accuracy.collections:
            if len(collection.get_offsets()):
                target = collection.get_label().lstrip("_").split(" ")[0]
                colours.setdefault(target, set()).update(to_hex(c) for c in collection.get_facecolors() if c[3] > 0)
                colours[target].update(to_hex(c) for c in collection.get_edgecolors())
        by_target = {t: colours[t] for t in ("coreml", "onnx", "tflite")}
        assert len({frozenset(c) for c in by_target.values()}) == 3
        # the PSNR panel leaves out onnx's infinite PSNR
        assert sum(len(c.get_offsets()) for c in axes[1].collections) == 3
    finally:
        plt.close(figure)
    path = write_chart(tmp_path / "chart.png", chart_points(rows()), "title")
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["chart.png"]
