"""The CPU model string every benchmark records beside its figures."""

from __future__ import annotations

import platform


def cpu_model() -> str:
    """/proc/cpuinfo's model name (platform.processor() elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
