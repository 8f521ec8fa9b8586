"""README's Quick start: exactly two one-line commands, the ones .ci/run executes."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from readme_commands import quick_start_commands  # noqa: E402


def test_quick_start_has_two_one_line_commands() -> None:
    main_cmd, test_cmd = quick_start_commands((ROOT / "README.md").read_text())
    assert "pip install torch==2.13.0" in main_cmd and "mvedge " in main_cmd
    assert "pytest" in test_cmd and '".[all,test]"' in test_cmd


def test_extraction_rejects_a_third_block() -> None:
    text = "## Quick start\n```bash\na\n```\n```bash\nb\n```\n```bash\nc\n```\n"
    with pytest.raises(SystemExit, match="exactly two"):
        quick_start_commands(text)


def test_ci_runs_the_readme_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_commands.py main" in ci and "readme_commands.py test" in ci
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_commands.py"), "test"], capture_output=True, text=True)
    assert out.returncode == 0 and "pytest" in out.stdout


# Built from pieces so this file does not match itself.
MACHINE_PATHS = ("../" + "shared", "/" + "work/")
TEXT_SUFFIXES = (".md", ".py", ".sh", ".txt", ".toml", ".cfg", ".yml", ".yaml")


def tracked_text_files() -> list[Path]:
    """Files git tracks (every file under the repository when there is no git checkout)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode == 0 and listed.stdout:
        paths = [ROOT / p for p in listed.stdout.decode().split("\0") if p]
    else:
        skip = {".git", ".venv", "node_modules", "__pycache__"}
        paths = [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    names = {"run"}  # .ci/run
    return [p for p in paths if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name in names)]


def test_no_file_points_at_paths_a_cloner_does_not_have() -> None:
    """Docs, code and scripts must not send a reader to folders outside the repository."""
    files = tracked_text_files()
    assert any(p.name == "README.md" for p in files) and any(p.suffix == ".py" for p in files)
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in files
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if any(m in line for m in MACHINE_PATHS)
    ]
    assert not offenders, offenders


def _synopses(text: str) -> dict[str, str]:
    """README's command synopses: in code blocks, a line 'mvedge CMD ...' and its indented continuations."""
    found: dict[str, str] = {}
    current = None
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.M | re.S):
        for line in block.splitlines():
            head = re.match(r"mvedge ([a-z-]+)", line)
            if head:
                current = head.group(1)
                found[current] = found.get(current, "") + " " + line
            elif current and line.startswith(" "):
                found[current] += " " + line
            else:
                current = None
    return found


def test_every_command_option_is_in_a_readme_synopsis() -> None:
    """Each sub-command's options, as its parser defines them, appear in README's synopses."""
    from mvedge.cli import make_parser

    synopses = _synopses((ROOT / "README.md").read_text())
    sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, parser in sub.choices.items():
        assert name in synopses, f"README has no synopsis of mvedge {name}"
        for action in parser._actions:
            options = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
            if options and not any(re.search(re.escape(o) + r"(?![\w-])", synopses[name]) for o in options):
                missing.append(f"mvedge {name} {options[0]}")
    assert not missing, missing


def test_readme_names_the_whole_public_api() -> None:
    import mvedge

    text = (ROOT / "README.md").read_text()
    missing = [name for name in mvedge.__all__ if f"mvedge.{name}" not in text and f"`{name}`" not in text]
    assert not missing, missing


def _section(text: str, heading: str) -> str:
    """README's text under a heading, up to the next heading of any level."""
    start = text.index(heading + "\n")
    following = re.search(r"^#{1,6} ", text[start + len(heading) + 1 :], flags=re.M)
    return text[start : start + len(heading) + 1 + (following.start() if following else len(text))]


def test_the_fine_tuning_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """README's fine-tuning code, run as written on a tiny model served as nvidia/MambaVision-T-1K
    by the stand-in Hub on 127.0.0.1: a new head is trained a step and saved; then its convert line
    resolves the saved model with the labels (the conversion itself is tested elsewhere)."""
    import torch

    import mvedge
    import mvedge.verify.data
    from mvedge.cli import main
    from mvedge.model.checkpoints import UntrainedHeadWarning, replace_head
    from tests.hub_server import COMMIT, TINY, FakeRepo, hub_config_json, hub_safetensors, point_hub_at, serving, tiny_model

    section = _section((ROOT / "README.md").read_text(), "### Fine-tuning a new head")
    (python,) = re.findall(r"^```python\n(.*?)^```", section, flags=re.M | re.S)
    (command,) = re.findall(r"^```bash\n(mvedge .*?)\n```", section, flags=re.M | re.S)
    repo = FakeRepo({COMMIT: {"config.json": hub_config_json(TINY), "model.safetensors": hub_safetensors(tiny_model())}})
    monkeypatch.chdir(tmp_path)
    generator = torch.Generator().manual_seed(0)
    loader = [(torch.randn(4, 3, 64, 64, generator=generator), torch.tensor([0, 1, 2, 1]))]
    with serving({"nvidia/MambaVision-T-1K": repo}) as server:
        point_hub_at(monkeypatch, server.url, tmp_path / "hf")
        with pytest.warns(UntrainedHeadWarning):
            exec(compile(python, "README.md", "exec"), {"loader": loader})
    tuned = mvedge.load_checkpoint(tmp_path / "mine.safetensors")
    assert tuned.num_classes == 3
    assert not torch.equal(tuned.head.weight, replace_head(tuned, 3).head.weight)  # trained away from the seeded start

    seen = []

    class Stop(Exception):
        pass

    def stand_in(bundle, *args, **kwargs):
        seen.append(bundle)
        raise Stop

    monkeypatch.setattr(mvedge.verify.data, "verification_set", stand_in)
    with pytest.raises(Stop):
        main(command.split()[1:])
    assert seen[0].labels == ["cat", "dog", "bird"] and seen[0].config["num_classes"] == 3
    assert "untrained" not in capsys.readouterr().err
