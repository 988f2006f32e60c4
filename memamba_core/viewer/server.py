"""The tile server: a small threaded HTTP server on 127.0.0.1, owned by the dashboard process.

It binds the loopback address only (a free port unless one is given), so no
other machine can reach it, and answers through :class:`TileService` (tokens,
Host and Origin checks, the routes). Requests are handled on a bounded pool of
threads (slide reads release the GIL in OpenSlide), so a burst of tile
requests neither blocks Streamlit's event loop nor grows threads without
bound. One server serves every session of the dashboard; it stops with the
process (daemon threads) or with :meth:`TileServer.close`.

Example::

    with TileServer(origins=dashboard_origins(8501)) as srv:
        token = srv.service.register_slide(cohort.slide_path(slide_id))
        url = srv.slide_url(token)       # http://127.0.0.1:<port>/dz/<token>.dzi
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

from .service import TileService

__all__ = ["TileServer", "dashboard_origins"]

LOOPBACK = "127.0.0.1"


def dashboard_origins(port: int) -> tuple[str, ...]:
    """The origins a dashboard served on localhost ``port`` has in the browser."""
    return (f"http://localhost:{int(port)}", f"http://127.0.0.1:{int(port)}")


class _Handler(BaseHTTPRequestHandler):
    server_version = "memamba-tiles"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body leave at once (no 40 ms delayed-ACK stall)

    def _answer(self, head: bool) -> None:
        svc: TileService = self.server.service  # type: ignore[attr-defined]
        try:
            r = svc.respond(self.command, self.path, self.headers.get("Host"), self.headers.get("Origin"))
        except Exception:  # never a traceback to the browser; the tile is simply missing
            self.server.errors += 1  # type: ignore[attr-defined]
            body = b"internal error"
            self.send_response(500)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(r.status)
        self.send_header("Content-Type", r.content_type)
        self.send_header("Content-Length", str(len(r.body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in r.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(r.body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(head=True)

    def _refuse(self) -> None:
        self.close_connection = True  # the request body is not read
        self._answer(head=False)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def log_message(self, format, *args) -> None:  # quiet: tile requests are many
        return


class _PooledHTTPServer(HTTPServer):
    """HTTPServer whose requests run on a fixed pool of daemon threads."""

    daemon_threads = True

    def __init__(self, addr, handler, service: TileService, workers: int) -> None:
        self.service = service
        self.errors = 0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="memamba-tiles")
        super().__init__(addr, handler)

    def process_request(self, request, client_address) -> None:
        self._pool.submit(self._work, request, client_address)

    def _work(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def handle_error(self, request, client_address) -> None:  # a closed connection mid-tile is normal
        self.errors += 1

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class TileServer:
    """A running tile server on ``127.0.0.1:port``. ``service`` registers slides and overlays.

    ``origins``: the dashboard's origins (:func:`dashboard_origins`); ``port`` 0 picks a free one.
    """

    def __init__(self, origins=(), port: int = 0, workers: int = 8, max_open: int = 8) -> None:
        self.service = TileService(origins=origins, max_open=max_open)
        self._httpd = _PooledHTTPServer((LOOPBACK, int(port)), _Handler, self.service, workers)
        self.port: int = self._httpd.server_address[1]
        self.service.hosts |= {f"{LOOPBACK}:{self.port}", f"localhost:{self.port}"}
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="memamba-tile-server", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def slide_url(self, token: str) -> str:
        """The DZI URL of a registered slide."""
        return f"{self.base_url}/dz/{token}.dzi"

    def overlay_url(self, key: str) -> str:
        """The DZI URL of a registered overlay."""
        return f"{self.base_url}/ov/{key}.dzi"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self.service.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "TileServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
