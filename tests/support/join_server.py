"""The real server, as /join's tests start it: its own runs folder, audience store and ONNX cache."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.browser import streamlit_server


@dataclass(frozen=True)
class JoinServer:
    url: str
    pid: int
    folder: Path  # what the server writes: its audience store, its ONNX cache, its runs

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def audience(self) -> Path:
        return self.folder / "audience.sqlite3"


@contextmanager
def join_server(folder: Path) -> Iterator[JoinServer]:
    env = {"MNIST_RUNS_DIR": str(folder / "runs"), "MNIST_AUDIENCE_DB": str(folder / "audience.sqlite3"),
           "MNIST_CACHE_DIR": str(folder / "cache")}
    with streamlit_server(env) as running:
        yield JoinServer(running.url, running.process.pid, folder)
