"""mvedge.upstream: each workaround runs only on the toolchain versions it was written for (refused
when it is needed for correct results, skipped when it only saves time), and undoes itself.
What each one fixes is checked by the tests of the code paths that use it (tests/converters/
test_coreml.py: tanh GELU and the classifier; tests/quant: the Core ML annotation, the PTQ fold,
litert-torch QAT)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

from mvedge import upstream
from mvedge.errors import BadInput
from mvedge.upstream import StaleWorkaround


def _installed(monkeypatch: pytest.MonkeyPatch, **versions: str) -> None:
    """Pretend these distributions are installed at these versions (underscores for dashes)."""
    real = importlib.metadata.version
    wanted = {name.replace("_", "-"): value for name, value in versions.items()}

    def version(name: str) -> str:
        return wanted[name] if name in wanted else real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)


def test_versions_compare_by_release_numbers(monkeypatch) -> None:
    workaround = upstream.Workaround("probe", "a bug", {"torch": ("2.13", "2.14")}, "no upstream issue found", required=False)
    for installed, inside in [("2.13.0+cpu", True), ("2.13.9", True), ("2.12.1", False), ("2.14.0", False), ("2.14.0rc1", False)]:
        _installed(monkeypatch, torch=installed)
        assert workaround.applies() is inside, installed


def test_every_workaround_names_its_range_and_upstream_reference() -> None:
    for workaround in upstream.WORKAROUNDS:
        assert workaround.versions and all(low < high for low, high in workaround.versions.values())
        assert workaround.upstream.startswith("https://") or workaround.upstream.startswith("no upstream issue found")


def test_the_pinned_versions_are_inside_every_range() -> None:
    """The versions constraints.txt pins (installed here) run every workaround."""
    for workaround in upstream.WORKAROUNDS:
        installed = [p for p in workaround.versions if _version_or_none(p)]
        if len(installed) == len(workaround.versions):
            assert workaround.mismatches() == [], workaround.name


def _version_or_none(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_gelu_fix_is_refused_on_an_untested_coremltools(monkeypatch) -> None:
    _installed(monkeypatch, coremltools="9.1.0")
    with pytest.raises(StaleWorkaround, match=r"coremltools 9\.1\.0 is installed.*coremltools >=9\.0,<9\.1 \(upstream: https://github\.com/apple/coremltools/pull/2863\)"):
        with upstream.coreml_gelu_reads_approximate_keyword():
            pass
    assert issubclass(StaleWorkaround, BadInput)  # one line, exit code 2


def test_two_step_classifier_conversion_is_refused_on_an_untested_coremltools(monkeypatch) -> None:
    _installed(monkeypatch, coremltools="8.3.0")
    with pytest.raises(StaleWorkaround, match="coremltools 8.3.0"):
        upstream.coreml_ml_program_in_two_steps(None, None, None, None)


def test_gelu_fix_is_restored_after_the_conversion() -> None:
    pytest.importorskip("coremltools")
    upstream.import_coremltools()
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY

    original = _TORCH_OPS_REGISTRY.name_to_func_mapping["gelu"]
    with upstream.coreml_gelu_reads_approximate_keyword():
        assert _TORCH_OPS_REGISTRY.name_to_func_mapping["gelu"] is not original
    assert _TORCH_OPS_REGISTRY.name_to_func_mapping["gelu"] is original


@pytest.mark.parametrize(
    "context,module,untested",
    [
        (lambda: upstream.coreml_quantizer_only_present_activations({"relu"}), "executorch.backends.apple.coreml.quantizer", {"executorch": "1.6.0"}),
        (upstream.litert_patterns_as_modules, "litert_torch.quantize", {"litert_torch": "0.11.0"}),
        (upstream.litert_patterns_as_modules, "litert_torch.quantize", {"torchao": "0.17.0"}),
        (upstream.torchao_skip_qat_batchnorm_fold, "torchao.quantization.pt2e", {"torchao": "0.19.0"}),
    ],
)
def test_speed_workarounds_are_skipped_outside_their_range(context, module, untested, monkeypatch) -> None:
    """On the pinned versions the patch imports its target (blocked here, so ImportError); on an
    untested version it is skipped and the toolchain runs unpatched (nothing imported, no error)."""
    pytest.importorskip(module.split(".")[0])
    monkeypatch.setitem(sys.modules, module, None)  # importing it raises ImportError
    with pytest.raises(ImportError):
        with context():
            pass
    _installed(monkeypatch, **untested)
    with context():
        pass


def test_tensorflow_is_hidden_only_while_coremltools_first_loads(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "coremltools", raising=False)  # as if not loaded yet
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    with upstream.coremltools_without_tensorflow():
        assert "tensorflow" in sys.modules and sys.modules["tensorflow"] is None
    assert "tensorflow" not in sys.modules
    _installed(monkeypatch, coremltools="9.1.0")  # untested coremltools: imported as it is
    with upstream.coremltools_without_tensorflow():
        assert "tensorflow" not in sys.modules


def test_coremltools_loads_without_tensorflow_and_leaves_it_importable() -> None:
    pytest.importorskip("coremltools")
    code = (
        "import importlib.util, sys\n"
        "from mvedge.upstream import import_coremltools\n"
        "ct = import_coremltools()\n"
        "print('tensorflow' in sys.modules, importlib.util.find_spec('tensorflow') is not None, ct.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded, findable, name = done.stdout.split()
    assert (loaded, name) == ("False", "coremltools")
    assert findable == str(_version_or_none("tensorflow") is not None)


def test_size_oblivious_export_is_on_only_inside_and_refused_on_an_untested_torch(monkeypatch) -> None:
    import torch.fx.experimental._config as fx_config

    assert not fx_config.backed_size_oblivious
    with upstream.export_size_oblivious():
        assert fx_config.backed_size_oblivious
    assert not fx_config.backed_size_oblivious
    _installed(monkeypatch, torch="2.14.0")
    with pytest.raises(upstream.StaleWorkaround, match="torch 2.14.0"):
        with upstream.export_size_oblivious():
            pass


def test_symbolic_size_fixes_are_undone_after_the_conversion_and_refused_on_an_untested_coremltools(monkeypatch) -> None:
    pytest.importorskip("coremltools")
    upstream.import_coremltools()
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY

    from coremltools.converters.mil.mil.passes.defs.optimize_elementwise_binary import rank0_expand_dims_swap

    registry = _TORCH_OPS_REGISTRY.name_to_func_mapping
    floordiv, swap = registry["floordiv"], rank0_expand_dims_swap._try_to_transform
    assert "sym_min" not in registry
    with upstream.coreml_symbolic_size_arithmetic():
        assert "sym_min" in registry and registry["floordiv"] is not floordiv
        assert rank0_expand_dims_swap._try_to_transform is not swap
    assert "sym_min" not in registry and registry["floordiv"] is floordiv
    assert rank0_expand_dims_swap._try_to_transform is swap
    _installed(monkeypatch, coremltools="9.1.0")
    with pytest.raises(StaleWorkaround, match="coremltools 9.1.0"):
        with upstream.coreml_symbolic_size_arithmetic():
            pass
