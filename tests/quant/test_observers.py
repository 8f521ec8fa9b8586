"""The three calibration observers, how the recipe quantizer swaps them in, and the two
speed-ups of mvedge.quant.pt2e (what they skip, and that they skip only that)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("torchao")

from torchao.quantization.pt2e.observer import HistogramObserver, MinMaxObserver  # noqa: E402

from mvedge.quant import pt2e  # noqa: E402
from mvedge.quant.observers import PercentileObserver, make_observer, observed_range  # noqa: E402


def _data() -> torch.Tensor:
    """A bulk in [-1, 1] and one outlier at 50."""
    values = torch.rand(100_000, generator=torch.Generator().manual_seed(0)) * 2 - 1
    values[123] = 50.0
    return values


def test_minmax_keeps_the_outlier_percentile_clips_it() -> None:
    ranges = {}
    for name in ("minmax", "histogram", "percentile"):
        observer = make_observer(name)
        for chunk in _data().split(25_000):  # several calibration batches
            observer(chunk)
        ranges[name] = observed_range(observer)
    assert ranges["minmax"] == pytest.approx((-1.0, 50.0), abs=1e-3)
    low, high = ranges["percentile"]
    assert -1.05 < low < -0.95 and 0.95 < high < 1.2  # 99.99th percentile: the outlier is cut
    hist_low, hist_high = ranges["histogram"]  # the L2 search: inside the data's range, covering the bulk
    assert -1.001 <= hist_low <= -0.9 and 0.9 <= hist_high <= 50.0 + 1e-3
    assert isinstance(make_observer("percentile"), HistogramObserver) and isinstance(make_observer("minmax"), MinMaxObserver)


def test_percentile_observer_rejects_a_bad_percentile() -> None:
    with pytest.raises(ValueError, match="percentile must be in"):
        PercentileObserver(percentile=30.0)


def test_the_recipe_quantizer_swaps_activation_observers_but_not_weight_observers() -> None:
    pytest.importorskip("executorch")
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1)).eval()
    x = torch.randn(2, 3, 8, 8)
    for name, kind in (("percentile", PercentileObserver), ("minmax", MinMaxObserver)):
        prepared = prepare_pt2e(torch.export.export(model, (x,)).module(), pt2e.recipe_quantizer("executorch", observer=name))
        observers = [m for n, m in prepared.named_modules() if n.startswith("activation_post_process")]
        activation = [m for m in observers if type(m).__name__ != "PerChannelMinMaxObserver"]
        assert activation and all(type(m) is kind for m in activation), name
        assert any(type(m).__name__ == "PerChannelMinMaxObserver" for m in observers)  # weights untouched


def test_ptq_convert_skips_only_the_qat_batchnorm_fold(monkeypatch) -> None:
    """convert() leaves out torchao's QAT conv-bn fold for PTQ graphs (it finds nothing there and
    costs 25-40 s of pattern exports) and runs it for QAT graphs."""
    from torchao.quantization.pt2e import quantize_pt2e

    calls = []
    monkeypatch.setattr(quantize_pt2e, "_fold_conv_bn_qat", lambda model: calls.append(1) or model)
    monkeypatch.setattr(quantize_pt2e, "convert_pt2e", quantize_pt2e.convert_pt2e)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
    x = torch.randn(2, 3, 8, 8)
    for qat in (False, True):
        prepare = quantize_pt2e.prepare_qat_pt2e if qat else quantize_pt2e.prepare_pt2e
        module = torch.export.export(model.train() if qat else model.eval(), (x,)).module()
        prepared = prepare(module, pt2e.recipe_quantizer("executorch", qat=qat))
        prepared(x)
        calls.clear()
        pt2e.convert(prepared, qat=qat)
        assert calls == ([1] if qat else []), qat


def test_coreml_annotation_offers_only_the_activations_in_the_graph() -> None:
    utils = pytest.importorskip("executorch.backends.apple.coreml.quantizer._coreml_quantizer_utils")

    class Net(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.gelu(torch.relu(x)) + torch.nn.functional.silu(x)

    graph = torch.export.export(Net(), (torch.randn(2, 3),)).module()
    before = (utils._supported_activations, utils._supported_activations_no_inplace)
    with pt2e._coreml_activations_in(graph):
        kept = {fn.__name__ for fn in utils._supported_activations + utils._supported_activations_no_inplace}
    assert kept == {"relu", "silu", "gelu"}
    assert (utils._supported_activations, utils._supported_activations_no_inplace) == before
