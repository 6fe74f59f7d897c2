"""Chart.js for the analytics page, served by the inbox itself as Swagger UI is (inbox/web/api_docs.py): no
CDN, so the page works offline and keeps the inbox's Content-Security-Policy (script-src 'self'). The file
comes from npm's `chart.js` in inbox/web/vendor, installed by `make install`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

VENDOR_DIR = Path(__file__).parent / "vendor" / "node_modules" / "chart.js" / "dist"
ASSETS_PATH = "/vendor/chart.js"
ASSETS = {"chart.umd.js": "application/javascript"}  # the one file the page loads: no source maps, no ESM
MISSING = "Chart.js is not installed in this checkout: run `make install` (npm installs inbox/web/vendor)."

router = APIRouter(include_in_schema=False)


@router.get(ASSETS_PATH + "/{name}")
def chart_asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, f"No Chart.js asset {name!r}.")
    path = VENDOR_DIR / name
    if not path.exists():
        raise HTTPException(503, MISSING)
    return FileResponse(path, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})
