"""Whether an artifact is the one its sidecar describes: its sha256 against the recorded one,
checked before an artifact is run or described."""

from __future__ import annotations

import sys
from pathlib import Path

from mvedge.artifact import Sidecar, sha256_of
from mvedge.errors import BadInput


def check_sha256(artifact: Path, sidecar: Sidecar, ignore: bool) -> str:
    """The artifact's sha256; BadInput when it differs from the sidecar's (a note instead with
    `ignore`), a note when the sidecar records none."""
    actual = sha256_of(artifact)
    recorded = sidecar.sha256
    if recorded is None:
        print(f"mvedge: note: the sidecar of {artifact.name} records no sha256; its content is not checked", file=sys.stderr)
    elif recorded != actual:
        what = (f"{artifact.name} is not the artifact its sidecar describes (sha256 {actual[:12]}..., "
                f"sidecar {recorded[:12]}...)")
        if not ignore:
            raise BadInput(f"{what}: it changed after conversion; convert it again, or pass --ignore-sha to use it anyway")
        print(f"mvedge: note: {what}; going on because of --ignore-sha", file=sys.stderr)
    return actual
