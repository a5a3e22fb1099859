"""A local HTTP server for the example: it answers every request 200 and prints it
(method, path as received, JSON body), so you can see what a sync sends.

python examples/http/sink.py              # listens on 127.0.0.1:8765
python examples/http/sink.py --port 9000
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class PrintingHandler(BaseHTTPRequestHandler):
    """Prints each request on one line and answers ``{"ok": true}``."""

    # Requests are served on threads: one line is written whole, never two interleaved.
    print_lock = threading.Lock()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.dumps(json.loads(raw), sort_keys=True) if raw else ""
        line = f"{self.command} {self.path} {body}".rstrip() + "\n"
        with self.print_lock:
            sys.stdout.write(line)
            sys.stdout.flush()
        answer = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_PUT = do_POST = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        """Quiet: the request line printed above says it all."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    port = parser.parse_args().port
    server = ThreadingHTTPServer(("127.0.0.1", port), PrintingHandler)
    print(f"listening on http://127.0.0.1:{server.server_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
