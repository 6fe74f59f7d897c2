"""Real local recipients for alert deliveries: an HTTP webhook receiver and a minimal SMTP server, each in a
thread on a free port, recording what they were sent."""

from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List


class WebhookReceiver:
    """Answers 200 to POSTed JSON, or 500 to the first `failures` requests (a flaky Slack)."""

    def __init__(self, failures: int = 0) -> None:
        self.payloads: List[Dict[str, Any]] = []
        self.failures = failures
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                if receiver.requests <= receiver.failures:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.payloads.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """Speaks just enough SMTP (RFC 5321: greeting, EHLO, MAIL, RCPT, DATA, QUIT) to take a message."""

    def __init__(self) -> None:
        self.messages: List[Dict[str, Any]] = []
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self) -> None:
                self.reply("220 localhost test SMTP")
                envelope: Dict[str, Any] = {"to": []}
                while True:
                    line = self.rfile.readline().decode("utf-8", "replace").rstrip("\r\n")
                    verb = line[:4].upper()
                    if not line and self.rfile.closed:
                        return
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 localhost")
                    elif verb == "MAIL":
                        envelope = {"from": line[10:].strip("<>"), "to": []}
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        envelope["to"].append(line[8:].strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        lines = []
                        while (data := self.rfile.readline().decode("utf-8", "replace")) not in (".\r\n", ""):
                            lines.append(data)
                        receiver.messages.append({**envelope, "data": "".join(lines)})
                        self.reply("250 OK queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif not line:
                        return
                    else:
                        self.reply("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "SmtpReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
