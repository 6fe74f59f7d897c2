"""Serve the customer web chat page: index.html plus the rasa-webchat bundle installed from npm.

Only those two files are exposed (not node_modules). The socket URL comes from RASA_PUBLIC_URL (what
the customer's browser can reach) or RASA_URL. The recommendation doors are mounted here too, because this
is the server customers reach (recommendations/public_routes.py): tracked links `/r/<token>`, content pages
`/content/<slug>` and the library's images `/content/<file>.svg`.
"""

from __future__ import annotations

import argparse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Optional

from recommendations.public_routes import public_answer
from settings import SettingsError, current, exit_with, load_at_startup

HERE = Path(__file__).resolve().parent
WIDGET = HERE / "node_modules" / "rasa-webchat" / "lib" / "index.js"


def page() -> bytes:
    socket_url = current().rasa.public_url
    return (HERE / "index.html").read_text(encoding="utf-8").replace("__SOCKET_URL__", socket_url).encode()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", page())
        elif path == "/rasa-webchat.js":
            self._send(200, "application/javascript", WIDGET.read_bytes())
        elif path == "/health":
            self._send(200, "text/plain", b"ok")
        else:
            answer = public_answer(path, self.headers.get("User-Agent") or "")
            if answer is None:
                self._send(404, "text/plain", b"not found")
            else:
                self._send(answer.status, answer.content_type, answer.body, answer.headers)

    def _send(self, status: int, content_type: str, body: bytes, headers: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet: the runner shows server logs
        return


def main() -> None:
    settings = load_at_startup("webchat")  # a bad value stops here: exit code 2 and what to fix
    try:
        settings.recommendations.tracking_secret.value()  # tracked links are checked here: outside dev it must be set
    except SettingsError as error:
        exit_with("webchat", error)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=settings.webchat.host)
    parser.add_argument("--port", type=int, default=settings.webchat.port)
    args = parser.parse_args()
    if not WIDGET.exists():
        raise SystemExit("rasa-webchat is not installed: run `make install` (npm install in webchat/)")
    print(f"web chat page on http://{args.host}:{args.port}", flush=True)
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
