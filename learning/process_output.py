"""Run a long command (`rasa train`) and hand its output on line by line, so the Models page shows training
as it goes. Progress bars (tqdm redraws one line with carriage returns) are handed on at most every
`bar_seconds`, the rest as it comes; everything is also echoed to this process's own output unchanged."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

PROGRESS_BAR = re.compile(r"\d+%\|")  # tqdm: " 45%|████▌     | 9/20 [00:03<00:04, 2.5it/s]"
TAIL_LINES = 20


def run_reporting(
    command: Sequence[str],
    report: Callable[[str], None],
    cwd: Optional[Path] = None,
    env: Optional[Dict[str, str]] = None,
    bar_seconds: float = 10.0,
) -> None:
    """Like `subprocess.run(command, check=True)`; raises CalledProcessError with the last lines as output."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    tail: List[str] = []
    last_bar_at = float("-inf")
    pending_bar: Optional[str] = None
    buffer = b""
    echo = getattr(sys.stdout, "buffer", None)  # a replaced sys.stdout (a test's capture) may have none
    while True:
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            break
        if echo is not None:
            echo.write(chunk)
            echo.flush()
        buffer += chunk
        *lines, buffer = re.split(rb"[\r\n]", buffer)
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            tail = (tail + [line])[-TAIL_LINES:]
            if PROGRESS_BAR.search(line):
                pending_bar = line
                if time.monotonic() - last_bar_at >= bar_seconds:
                    report(line)
                    last_bar_at, pending_bar = time.monotonic(), None
            else:
                if pending_bar is not None:  # the bar's last state before what follows it
                    report(pending_bar)
                    pending_bar = None
                report(line)
    if buffer.strip():
        line = buffer.decode("utf-8", "replace").strip()
        tail.append(line)
        report(line)
    elif pending_bar is not None:
        report(pending_bar)
    code = process.wait()
    if code != 0:
        raise subprocess.CalledProcessError(code, list(command), output="\n".join(tail))
