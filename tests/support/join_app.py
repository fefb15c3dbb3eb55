"""/join's routes in this process, on the app they form beside the dashboard (as app.py mounts them), through
Starlette's ``TestClient``: no server to start for a test about a route. A test about the server itself (a body
trickled over a socket, the proxy recipe, the phone in Chromium) starts one with ``tests/support/join_server.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

BASE_URL = "http://127.0.0.1:8501"  # the Host the routes see: the page's own origin for their Origin check


@dataclass(frozen=True)
class JoinApp:
    client: TestClient  # speaks from 127.0.0.1: an X-Forwarded-For header names the phone's network, as uvicorn
    folder: Path  # its runs, audience store and ONNX cache

    @property
    def port(self) -> int:
        return int(BASE_URL.rsplit(":", 1)[1])

    @property
    def audience(self) -> Path:
        return self.folder / "audience.sqlite3"


def folder_env(folder: Path) -> dict[str, str]:
    """The environment a /join server of ``folder`` runs with (join_server.py starts one with it)."""
    return {"MNIST_RUNS_DIR": str(folder / "runs"), "MNIST_AUDIENCE_DB": str(folder / "audience.sqlite3"),
            "MNIST_CACHE_DIR": str(folder / "cache")}


@contextmanager
def in_process_join(folder: Path) -> Iterator[JoinApp]:
    """A fresh app over ``folder``, with the label limits of a fresh server. Set :func:`folder_env` in each test
    that uses it (the tests' own MNIST_CACHE_DIR is set per test)."""
    from join import routes, server_routes
    from join.door import PresenterKeyMiddleware
    from join.limits import LabelLimits
    from mnist_core.workspace import Workspace
    from tests.support import PROJECT_ROOT

    workspace = Workspace(PROJECT_ROOT)
    app = Starlette(routes=server_routes(workspace),
                    middleware=[Middleware(PresenterKeyMiddleware, workspace=workspace)])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(routes, "_limits", LabelLimits())
        with TestClient(ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1"), base_url=BASE_URL,
                        client=("127.0.0.1", 50000)) as client:
            yield JoinApp(client, folder)
