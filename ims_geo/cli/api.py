"""``ims-geo api``: serve the HTTP API for organisations' asset systems (uvicorn)."""

from __future__ import annotations

import click

from ims_geo.cli import _handle_errors, main, store_option


@main.command("api")
@click.option("--port", type=int, default=8000, show_default=True, help="TCP port to listen on.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; keep 127.0.0.1 behind a reverse proxy that terminates TLS.",
)
@click.option(
    "--root-path",
    default="",
    help="Path prefix under which a reverse proxy serves the API (e.g. /api).",
)
@store_option
@_handle_errors
def api_cmd(port: int, host: str, root_path: str, store_path: str) -> None:
    """Serve the HTTP API over a shared (PostGIS) store.

    Clients send an organisation's token (ims-geo admin token ORG) as
    "Authorization: Bearer <token>"; documentation at /docs. The store URL
    is the application role's (--store or IMS_GEO_STORE).
    """
    import uvicorn

    from ims_geo.api import create_app

    app = create_app(store_path)
    click.echo(f"ims_geo API on http://{host}:{port} (docs at /docs)", err=True)
    uvicorn.run(
        app, host=host, port=port, root_path=root_path, log_level="warning", proxy_headers=True
    )
