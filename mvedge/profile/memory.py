"""Peak resident memory of this process over a stretch of work (Linux: VmHWM after resetting it).

Used inside the profiling subprocess, so the peak is the artifact's (weights, runtime arenas,
activations), not the parent's imports or other artifacts'.
"""

from __future__ import annotations

import re
import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(key: str) -> int | None:
    try:
        match = re.search(rf"^{key}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _maxrss_kb() -> int:
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value // 1024 if sys.platform == "darwin" else value  # bytes on macOS, KiB on Linux


class PeakMemory:
    """`start()` before the work, `peak_mb()` after: the highest RSS reached above the RSS at start."""

    def __init__(self) -> None:
        self.method = ""
        self._base_kb = 0
        self._hwm = False

    def start(self) -> None:
        rss = _status_kb("VmRSS")
        try:  # writing 5 resets the peak RSS counter (VmHWM) to the current RSS (Linux >= 4.0)
            _CLEAR_REFS.write_text("5")
            self._hwm = rss is not None and _status_kb("VmHWM") is not None
        except OSError:
            self._hwm = False
        if self._hwm:
            self._base_kb = _status_kb("VmRSS") or 0
            self.method = "peak RSS (VmHWM, reset before loading) minus RSS before loading, in the profiling subprocess"
        else:
            self._base_kb = _maxrss_kb()
            self.method = "growth of the profiling subprocess's max RSS (ru_maxrss) from before loading"

    def peak_mb(self) -> float:
        peak = _status_kb("VmHWM") if self._hwm else _maxrss_kb()
        return max(0, (peak or 0) - self._base_kb) / 1024.0
