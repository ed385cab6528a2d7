"""Serve the widget's demo page (demo/widget/index.html) on its own port: a plain page of "an
organisation's website" on another origin than the assistant, with the one-line snippet.

Usage: `python scripts/widget_demo.py --port 5090 --assistant http://localhost:5005/webhooks/webchat/
[--title NAME]` (`make run` starts it when HELPDESK_WIDGET_DEMO_PORT is set, by default).
Standard library only: a page and nothing else (every other path is 404).
"""

from __future__ import annotations

import argparse
import contextlib
import html
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "demo" / "widget" / "index.html"


def render(assistant: str, title: str) -> bytes:
    """The demo page with the assistant's chat address and name filled in."""
    base = assistant if assistant.endswith("/") else assistant + "/"
    text = PAGE.read_text(encoding="utf-8")
    text = text.replace("{{ assistant }}", html.escape(base, quote=True))
    return text.replace("{{ title }}", html.escape(title)).encode("utf-8")


def handler(body: bytes) -> type[BaseHTTPRequestHandler]:
    class Demo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?")[0] not in ("/", "/index.html"):
                self.send_error(404, "Tidak ditemukan")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # quiet: one page
            return

    return Demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5090)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--assistant", required=True, help="the web chat's URL")
    parser.add_argument("--title", default="layanan bantuan")
    args = parser.parse_args(argv)
    page = render(args.assistant, args.title)
    server = ThreadingHTTPServer((args.host, args.port), handler(page))
    print(f"widget demo on http://{args.host}:{args.port}/ (chat at {args.assistant})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
