"""A Ray cluster of a test's own, started as a user starts one (``ray start --head``), and stopped without
touching any other Ray on the machine: ``ray stop`` (with or without ``--force``) stops every Ray of the user."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    """A free port on the loopback address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_head(temp: str, port: int, env: dict[str, str]) -> None:
    """``ray start --head`` on 127.0.0.1:``port`` with 2 CPUs, its files (and sockets: keep ``temp`` short)
    under ``temp``."""
    started = subprocess.run([RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                              "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                             env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stderr[-2000:]


def stop_head(temp: str) -> None:
    """Stop the processes of the cluster whose files are under ``temp``: those naming it on their command line
    (the GCS server, the raylet, Ray's Python daemons) and their descendants (workers and agents rename
    themselves, e.g. ``ray::DashboardAgent``)."""
    parents = _parents()
    ours = {pid for pid in parents if temp in _command_line(pid)} - _ancestors(os.getpid(), parents)
    grown = True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in ours} - ours
        grown = bool(children)
        ours |= children
    started = {pid: _started(pid) for pid in ours}  # a process's identity: its number may be reused once it ends
    # A throw-away cluster: 2 s to end on SIGTERM (one of its processes outlived 10 s there), then SIGKILL.
    for sig, grace in ((signal.SIGTERM, 2), (signal.SIGKILL, 10)):
        for pid in ours:
            if _alive(pid) and _started(pid) == started[pid]:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(pid) for pid in ours):
            time.sleep(0.1)


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])
    return parents


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, ended but not yet reaped, does not)."""
    return _stat(pid)[:1] not in ([], ["Z"])


def _started(pid: int) -> str:
    """When ``pid`` started (clock ticks since boot), or "" if it has ended."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state, parent, …), or none."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _ancestors(pid: int, parents: dict[int, int]) -> set[int]:
    """``pid`` and the processes above it (never stopped: this one may name ``temp`` too)."""
    found = set()
    while pid and pid not in found:
        found.add(pid)
        pid = parents.get(pid, 0)
    return found


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
