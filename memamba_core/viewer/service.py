"""What the tile server answers, independent of the HTTP transport (so it is tested without sockets).

Routes (GET or HEAD only; every other path is 404, every other method 405)::

    /dz/<token>.dzi                         the slide's DZI descriptor (JPEG tiles)
    /dz/<token>_files/<z>/<col>_<row>.jpeg  a slide tile
    /ov/<key>.dzi                           an overlay's DZI descriptor (PNG tiles, same geometry)
    /ov/<key>_files/<z>/<col>_<row>.png     an overlay tile

A ``token`` exists only for a slide file registered by the app (the slides of
the loaded cohort); it is 256 random bits, so a page that did not get it from
the app cannot name a slide, and no request can name a file path. A ``key``
names one overlay layer of one registered slide; it is an HMAC of the layer's
content under a per-process secret, so the same layer drawn again (a rerun)
gets the same URL and the browser's cached tiles. The ``Host`` header must be
one of the addresses the server is reached at (defeats DNS rebinding: a page on
another site that resolves its name to 127.0.0.1 still sends its own name); a
request carrying an ``Origin`` must come from an allowed origin (the
dashboard's), which then also gets the CORS header OpenSeadragon needs to
draw the tiles on a canvas.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .deepzoom import SlideDeepZoom
from .layers import OverlayLayer, render_png

__all__ = ["Reply", "TileService"]

_TOKEN = r"[A-Za-z0-9_-]{43}"
_ROUTE = re.compile(rf"^/(dz|ov)/({_TOKEN})(?:\.dzi|_files/(\d{{1,2}})/(\d{{1,7}})_(\d{{1,7}})\.(jpeg|png))$")
_MAX_OVERLAYS = 512   # registered layers kept (oldest forgotten first)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _text(status: int, message: str) -> Reply:
    return Reply(status, "text/plain; charset=utf-8", message.encode())


@dataclass
class _Slide:
    path: Path
    dz: SlideDeepZoom | None = None
    users: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class TileService:
    """Registered slides and overlays, and the answer to one request.

    ``hosts``: accepted ``Host`` header values (e.g. ``{"127.0.0.1:8765", "localhost:8765"}``);
    ``origins``: accepted ``Origin`` values (the dashboard's, e.g. ``{"http://localhost:8501"}``);
    ``max_open``: slide files kept open at once (least recently used closed first).
    """

    def __init__(self, hosts=(), origins=(), max_open: int = 8) -> None:
        self.hosts: set[str] = {h.lower() for h in hosts}
        self.origins: set[str] = {o.lower() for o in origins}
        self.max_open = max_open
        self._secret = secrets.token_bytes(32)
        self._slides: dict[str, _Slide] = {}
        self._by_path: dict[Path, str] = {}
        self._overlays: OrderedDict[str, tuple[str, OverlayLayer]] = OrderedDict()
        self._open: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    # -- registration (called by the app, never by a request) ----------------------------------
    def register_slide(self, path: str | Path) -> str:
        """The token of slide file ``path`` (registered once; the same path gives the same token)."""
        p = Path(path).expanduser().resolve()
        if not p.is_file():
            raise InputError(f"{path}: no such slide file; only slide files of the loaded cohort can be viewed.")
        with self._lock:
            tok = self._by_path.get(p)
            if tok is None:
                tok = secrets.token_urlsafe(32)
                self._slides[tok] = _Slide(p)
                self._by_path[p] = tok
            return tok

    def register_cohort_slide(self, cohort, slide_id: str) -> str:
        """The token of ``slide_id``'s file in ``cohort`` (``memamba_core.data.Cohort``): only the loaded
        cohort's slides, found by the cohort itself (inside its folder; a symlink leaving it is refused)."""
        path = cohort.slide_path(slide_id)
        if path is None:
            raise InputError(f"slide {slide_id} has no slide file in cohort '{cohort.name}' (slides/); "
                             f"add it there to view it.")
        return self.register_slide(path)

    def register_overlay(self, token: str, layer: OverlayLayer) -> str:
        """The key of ``layer`` drawn over slide ``token`` (deterministic for the same content)."""
        if token not in self._slides:
            raise InputError("overlay for a slide that is not registered; register the slide first.")
        mac = hmac.new(self._secret, f"{token}|{layer.fingerprint()}".encode(), hashlib.sha256).digest()
        key = base64.urlsafe_b64encode(mac).decode().rstrip("=")
        with self._lock:
            self._overlays[key] = (token, layer)
            self._overlays.move_to_end(key)
            while len(self._overlays) > _MAX_OVERLAYS:
                self._overlays.popitem(last=False)
        return key

    def deep_zoom(self, token: str) -> SlideDeepZoom:
        """The open :class:`SlideDeepZoom` of a registered slide (opened on first use, LRU-bounded)."""
        with self._using(token) as dz:
            return dz

    @contextmanager
    def _using(self, token: str):
        """The slide's deep zoom, counted as in use: a slide is never closed while a request reads it."""
        s = self._slides[token]
        with s.lock:
            if s.dz is None:
                s.dz = SlideDeepZoom(s.path)
            s.users += 1
            dz = s.dz
        try:
            yield dz
        finally:
            with s.lock:
                s.users -= 1
            self._evict(token)

    def _evict(self, recent: str) -> None:
        """Close the least recently used idle slides beyond ``max_open``."""
        with self._lock:
            self._open[recent] = None
            self._open.move_to_end(recent)
            order = list(self._open)
        excess = len(order) - self.max_open
        for tok in order:
            if excess <= 0:
                break
            old = self._slides[tok]
            with old.lock:
                if old.users or old.dz is None:
                    continue
                old.dz.close()
                old.dz = None
            with self._lock:
                self._open.pop(tok, None)
            excess -= 1

    def close(self) -> None:
        for s in self._slides.values():
            with s.lock:
                if s.dz is not None:
                    s.dz.close()
                    s.dz = None

    # -- requests ----------------------------------------------------------------------------
    def respond(self, method: str, target: str, host: str | None, origin: str | None = None) -> Reply:
        """The answer to ``method target`` with the request's ``Host`` and ``Origin`` headers."""
        if method not in ("GET", "HEAD"):
            return Reply(405, "text/plain; charset=utf-8", b"method not allowed", {"Allow": "GET, HEAD"})
        if (host or "").lower() not in self.hosts:
            return _text(403, "host not allowed")
        cors = {}
        if origin is not None:
            if origin.lower() not in self.origins:
                return _text(403, "origin not allowed")
            cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        m = _ROUTE.match(target.split("?", 1)[0])
        if m is None:
            return _text(404, "not found")
        kind, tok, z, col, row, ext = m.groups()
        if kind == "dz":
            if tok not in self._slides:
                return _text(404, "not found")
            slide_tok, layer = tok, None
        else:
            entry = self._overlays.get(tok)
            if entry is None:
                return _text(404, "not found")
            slide_tok, layer = entry
        if ext is not None and (ext == "png") != (kind == "ov"):
            return _text(404, "not found")
        try:
            with self._using(slide_tok) as dz:
                return self._tile(dz, kind, layer, z, col, row, cors)
        except InputError as err:  # the slide cannot be opened: say so, keep serving the rest
            return _text(404, str(err))

    def _tile(self, dz: SlideDeepZoom, kind: str, layer, z, col, row, cors: dict) -> Reply:
        try:
            if z is None:
                body = dz.dzi("jpeg" if kind == "dz" else "png").encode()
                return Reply(200, "application/xml", body, {**cors, "Cache-Control": "private, max-age=3600"})
            z, col, row = int(z), int(col), int(row)
            box = dz.box(z, col, row)
        except InputError as err:
            return _text(404, str(err))
        try:
            if layer is None:
                body, ctype = dz.tile_jpeg(z, col, row), "image/jpeg"
            else:
                body, ctype = render_png(layer, box), "image/png"
        except InputError as err:  # a slide that cannot be read there: say so, keep serving the rest
            return _text(500, str(err))
        return Reply(200, ctype, body, {**cors, "Cache-Control": "private, max-age=3600"})
