"""PNG renditions of the content library's SVG images, for the platforms that fetch images themselves.

Messenger's generic template, WhatsApp's message headers and WeChat's news articles take JPEG or PNG only, so
recommendations/rendering.py uses `<name>.png` beside `<name>.svg` when it exists. This draws each SVG in Debian's
Chromium (driven by Playwright, as the browser tests are) at 3x and writes the PNG next to it. Run it again after
changing an SVG:

    .venv/bin/python scripts/render_content_images.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CONTENT = Path(__file__).resolve().parent.parent / "webchat" / "content"
CHROMIUM = Path("/usr/bin/chromium")
SIZE = 120  # the SVGs' own width and height
SCALE = 3  # 360 × 360 pixels: sharp in a Messenger card, small to fetch


def render(folder: Path = CONTENT) -> list:
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": SIZE, "height": SIZE}, device_scale_factor=SCALE)
        for svg in sorted(folder.glob("*.svg")):
            page.set_content(
                f"<html><body style='margin:0;background:#fff'>{svg.read_text(encoding='utf-8')}</body></html>"
            )
            target = svg.with_suffix(".png")
            page.locator("svg").screenshot(path=str(target))
            written.append(target)
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=CONTENT)
    for path in render(parser.parse_args().folder):
        print(path)


if __name__ == "__main__":
    main()
