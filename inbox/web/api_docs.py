"""Swagger UI for the inbox API, served from the inbox itself: no CDN, so the docs work offline and the
page keeps the same Content-Security-Policy as every other page (no third-party script next to a
logged-in session). The assets come from npm's `swagger-ui-dist`, installed by `make install`."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

VENDOR_DIR = Path(__file__).parent / "vendor" / "node_modules" / "swagger-ui-dist"
ASSETS_PATH = "/vendor/swagger-ui"
# only what the page loads: the package also holds an index.html with an inline script, and source maps
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "application/javascript",
}
MISSING = "Swagger UI is not installed in this checkout: run `make install` (npm installs inbox/web/vendor)."


def docs_page(title: str, openapi_url: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{escape(title)} · docs</title>
  <link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
</head>
<body data-openapi="{escape(openapi_url)}">
  <div id="swagger-ui"></div>
  <script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
  <script src="/static/api-docs.js"></script>
</body>
</html>
"""


def api_docs_router(title: str, docs_url: str, openapi_url: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(docs_url, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        if not (VENDOR_DIR / "swagger-ui-bundle.js").exists():
            raise HTTPException(503, MISSING)
        return HTMLResponse(docs_page(title, openapi_url))

    @router.get(ASSETS_PATH + "/{name}")
    def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(404, f"No Swagger UI asset {name!r}.")
        path = VENDOR_DIR / name
        if not path.exists():
            raise HTTPException(503, MISSING)
        return FileResponse(path, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})

    return router
