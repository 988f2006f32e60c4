"""The dashboard server's own safety: the Host guard (DNS rebinding) and the start-up check of the options in force.

No streamlit here (unit-tested): ``dashboard/Home.py`` wraps Streamlit's ASGI
app (``st.App``) in :class:`HostGuard` and calls :func:`unsafe_options` with
``st.get_option`` before it shows any patient data.

*DNS rebinding*: a page on another site can make the browser resolve its own
name to 127.0.0.1 and then talk to a dashboard on this machine; the browser
then sends that site's name as ``Host``. :class:`HostGuard` answers only
requests (HTTP and websocket) whose ``Host`` names this machine's loopback
(``localhost``, ``127.0.0.1``, ``[::1]``) with the port the server listens on,
or a name listed in ``MEMAMBA_ALLOWED_HOSTS`` — the documented setting for a
deliberate remote deployment behind a proxy (see ``docs/security.md``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["ALLOWED_HOSTS_ENV", "LOOPBACK", "HostGuard", "allowed_hosts", "host_allowed", "unsafe_options"]

ALLOWED_HOSTS_ENV = "MEMAMBA_ALLOWED_HOSTS"
LOOPBACK = ("localhost", "127.0.0.1", "::1")


def allowed_hosts(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Extra host names of a deliberate remote deployment (``MEMAMBA_ALLOWED_HOSTS``, comma-separated), lower case."""
    raw = (os.environ if env is None else env).get(ALLOWED_HOSTS_ENV, "")
    return tuple(h.strip().lower().rstrip(".") for h in raw.split(",") if h.strip())


def _split_host(host: str) -> tuple[str, int | None] | None:
    """(host name, port or None) of a ``Host`` header value, or None when it is not a plain host[:port]."""
    try:
        parts = urlsplit(f"//{host}")
        port = parts.port
    except ValueError:
        return None
    name = parts.hostname
    if (not name or parts.username is not None or parts.password is not None or parts.path or parts.query
            or parts.fragment or any(c.isspace() for c in host)):
        return None
    return name.lower().rstrip("."), port


def host_allowed(host: str | None, port: int | None, extra: tuple[str, ...] = ()) -> bool:
    """Whether a request's ``Host`` header names this server.

    Loopback names must carry the served ``port`` (a browser always sends it for
    a non-default port); names in ``extra`` (a remote deployment behind a
    proxy) are accepted with any port or none.
    """
    if not host:
        return False
    split = _split_host(host)
    if split is None:
        return False
    name, p = split
    if name in extra:
        return True
    return name in LOOPBACK and port is not None and p == port


def _header(scope: dict, name: bytes) -> str | None:
    values = [v for k, v in scope.get("headers", ()) if k.lower() == name]
    if len(values) != 1:  # none, or several (ambiguous): refuse
        return None
    return values[0].decode("latin-1")


class HostGuard:
    """ASGI middleware: HTTP and websocket requests whose ``Host`` is not this server are refused (403).

    ``port``: the port the server listens on; by default the local port of the
    connection (the ASGI ``server`` scope), which is the port actually bound.
    """

    def __init__(self, app, port: int | None = None, extra: tuple[str, ...] | None = None):
        self.app = app
        self.port = port
        self.extra = allowed_hosts() if extra is None else tuple(extra)

    async def __call__(self, scope, receive, send):
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        server = scope.get("server") or (None, None)
        port = self.port if self.port is not None else server[1]
        if host_allowed(_header(scope, b"host"), port, self.extra):
            return await self.app(scope, receive, send)
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403
            return None
        body = (b"Refused: this dashboard answers only requests addressed to localhost with its port "
                b"(DNS rebinding protection). For a deliberate remote deployment set MEMAMBA_ALLOWED_HOSTS.\n")
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return None


def unsafe_options(get_option, env: Mapping[str, str] | None = None) -> list[str]:
    """What is unsafe in the server options in force (``get_option``: ``st.get_option``), each with its fix; [] if safe.

    Bound to this machine only (``server.address`` a loopback address — or any
    address when ``MEMAMBA_ALLOWED_HOSTS`` declares a remote deployment), usage
    statistics off, XSRF protection on.
    """
    problems = []
    address = get_option("server.address")
    if str(address or "").strip().lower().strip("[]") not in LOOPBACK and not allowed_hosts(env):
        where = "all network interfaces" if not address or address in ("0.0.0.0", "::") else f"address {address}"
        problems.append(
            f"The server listens on {where}: patient data would be reachable from other machines. "
            "Start it with `--server.address localhost` (dashboard/.streamlit/config.toml sets it when it is "
            f"not overridden), or, for a deliberate remote deployment behind a proxy, set {ALLOWED_HOSTS_ENV} "
            "to the names it is served on (docs/security.md).")
    if get_option("browser.gatherUsageStats"):
        problems.append("Usage statistics are on: start the server with `--browser.gatherUsageStats false`.")
    if not get_option("server.enableXsrfProtection"):
        problems.append("XSRF protection is off: start the server with `--server.enableXsrfProtection true`.")
    return problems
