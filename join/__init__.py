"""The phones' page, /join (routes.py), its game (game_routes.py), the presenter's export (presenter_routes.py)
and the door in front of them all (door.py): plain HTTP beside the dashboard."""

from __future__ import annotations

from starlette.routing import Route

from mnist_core.workspace import Workspace


def server_routes(workspace: Workspace) -> list[Route]:
    """Every HTTP route the server adds beside the dashboard, over ``workspace`` (app.py mounts them)."""
    from join.game_routes import game_routes
    from join.presenter_routes import presenter_routes
    from join.routes import join_routes

    return join_routes(workspace) + game_routes(workspace) + presenter_routes(workspace)
