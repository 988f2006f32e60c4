"""The tile server refuses what it must: unknown tokens, other paths, other hosts and origins, other methods."""

from __future__ import annotations

import http.client
import io
import socket

import numpy as np
import pytest
from PIL import Image

from memamba_core.demo.render import write_pyramid_tiff
from memamba_core.errors import InputError
from memamba_core.viewer import PatchLayout, TileServer, TileService, attention_layer, dashboard_origins
from tests._viewer_fixtures import textured_rgb

ORIGIN = "http://localhost:8501"


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    d = tmp_path_factory.mktemp("srv")
    a, b = d / "A.tif", d / "B.tif"
    write_pyramid_tiff(a, textured_rgb(600, 800, 1), mpp=0.5, min_side=128)
    write_pyramid_tiff(b, textured_rgb(600, 800, 2), mpp=0.5, min_side=128)
    (d / "secret.txt").write_text("not a slide")
    return a, b, d / "secret.txt"


@pytest.fixture()
def svc(slides):
    s = TileService(hosts={"127.0.0.1:9"}, origins={ORIGIN})
    yield s
    s.close()


def _get(svc, target, host="127.0.0.1:9", origin=None, method="GET"):
    return svc.respond(method, target, host, origin)


def test_registered_slide_serves_dzi_and_tiles(svc, slides):
    tok = svc.register_slide(slides[0])
    assert len(tok) == 43 and tok == svc.register_slide(str(slides[0]))   # one token per file
    r = _get(svc, f"/dz/{tok}.dzi")
    assert r.status == 200 and b'Width="800"' in r.body and r.content_type == "application/xml"
    dz = svc.deep_zoom(tok)
    z = dz.level_count - 1
    r = _get(svc, f"/dz/{tok}_files/{z}/1_1.jpeg", origin=ORIGIN)
    assert r.status == 200 and r.content_type == "image/jpeg"
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert Image.open(io.BytesIO(r.body)).size == dz.box(z, 1, 1).size


def test_unknown_tokens_paths_and_formats_are_404(svc, slides):
    tok = svc.register_slide(slides[0])
    other = svc.register_slide(slides[1])
    z = svc.deep_zoom(tok).level_count - 1
    fake = "A" * 43
    for target in [
        f"/dz/{fake}.dzi",                                  # a token nobody was given
        f"/dz/{fake}_files/{z}/0_0.jpeg",
        f"/ov/{tok}.dzi",                                   # a slide token is not an overlay key
        f"/dz/{tok}_files/{z}/0_0.png",                     # slides are JPEG
        f"/dz/{tok}_files/{z}/99_99.jpeg",                  # outside the level
        f"/dz/{tok}_files/99/0_0.jpeg",
        f"/dz/{tok}/../{other}.dzi",
        "/dz/../../etc/passwd", "/etc/passwd", f"/{slides[2]}", "/", "",
        f"/dz/{slides[0]}.dzi", f"/dz/{tok}.dzi/..", f"/dz/{tok}%2e%2e.dzi",
        f"/dz/{tok[:-1]}.dzi", f"/dz/{tok}x.dzi",
    ]:
        r = _get(svc, target)
        assert r.status == 404, target
        assert b"root:" not in r.body and b"not a slide" not in r.body


def test_only_files_that_exist_can_be_registered(svc, slides, tmp_path):
    with pytest.raises(InputError, match="no such slide file"):
        svc.register_slide(tmp_path / "missing.svs")
    with pytest.raises(InputError, match="not registered"):
        svc.register_overlay("B" * 43, attention_layer(PatchLayout("x", [0], [[0, 0]], 64), [1.0]))


def test_a_file_that_is_not_a_slide_is_a_message_not_a_crash(svc, slides):
    tok = svc.register_slide(slides[2])          # registered by mistake: a text file
    r = _get(svc, f"/dz/{tok}.dzi")
    assert r.status == 404 and b"not a readable whole-slide image" in r.body


def test_host_header_must_be_the_served_address(svc, slides):
    tok = svc.register_slide(slides[0])
    for host in [None, "", "evil.example:9", "127.0.0.1:10", "127.0.0.1", "localhost.evil.example:9", "[::1]:9"]:
        assert _get(svc, f"/dz/{tok}.dzi", host=host).status == 403, host


def test_origin_must_be_the_dashboard(svc, slides):
    tok = svc.register_slide(slides[0])
    assert _get(svc, f"/dz/{tok}.dzi", origin="http://evil.example").status == 403
    assert _get(svc, f"/dz/{tok}.dzi", origin="null").status == 403
    ok = _get(svc, f"/dz/{tok}.dzi", origin=ORIGIN)
    assert ok.status == 200 and ok.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Origin" not in _get(svc, f"/dz/{tok}.dzi").headers


def test_only_get_and_head(svc, slides):
    tok = svc.register_slide(slides[0])
    for m in ("POST", "PUT", "DELETE", "OPTIONS", "TRACE"):
        r = _get(svc, f"/dz/{tok}.dzi", method=m)
        assert r.status == 405 and r.headers["Allow"] == "GET, HEAD"
    assert _get(svc, f"/dz/{tok}.dzi", method="HEAD").status == 200


def test_overlay_keys_are_stable_per_content_and_unguessable(svc, slides):
    tok = svc.register_slide(slides[0])
    lay = PatchLayout("A", np.arange(2), np.array([[0, 0], [256, 0]]), 256.0)
    k1 = svc.register_overlay(tok, attention_layer(lay, [0.2, 0.8]))
    assert k1 == svc.register_overlay(tok, attention_layer(lay, [0.2, 0.8]))      # a rerun: same URL
    assert k1 != svc.register_overlay(tok, attention_layer(lay, [0.8, 0.2]))
    other = TileService(hosts={"127.0.0.1:9"})
    other.register_slide(slides[0])
    assert k1 != other.register_overlay(other.register_slide(slides[0]), attention_layer(lay, [0.2, 0.8]))
    z = svc.deep_zoom(tok).level_count - 1
    r = _get(svc, f"/ov/{k1}_files/{z}/0_0.png")
    assert r.status == 200 and r.content_type == "image/png"
    assert Image.open(io.BytesIO(r.body)).mode == "RGBA"
    assert _get(svc, f"/ov/{k1}_files/{z}/0_0.jpeg").status == 404
    assert b'Format="png"' in _get(svc, f"/ov/{k1}.dzi").body


def test_open_slides_are_bounded(slides):
    svc = TileService(hosts={"h:1"}, max_open=1)
    a, b = svc.register_slide(slides[0]), svc.register_slide(slides[1])
    da = svc.deep_zoom(a)
    svc.deep_zoom(b)
    assert svc._slides[a].dz is None and da.slide._h is None       # the least recently used one was closed
    assert svc.respond("GET", f"/dz/{a}.dzi", "h:1").status == 200  # and reopens on demand
    with svc._using(a) as busy:                                     # a slide being read is never closed under it
        svc.deep_zoom(b)
        assert svc._slides[a].dz is busy and busy.slide._h is not None
    svc.deep_zoom(b)
    assert svc._slides[a].dz is None                                # closed once idle
    svc.close()


# -- the real server, over sockets ------------------------------------------------------------------

def _http(port, target, host=None, origin=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": host or f"127.0.0.1:{port}"}
    if origin:
        headers["Origin"] = origin
    c.request(method, target, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict(r.getheaders()), body


def test_server_binds_loopback_and_checks_host(slides):
    with TileServer(origins=dashboard_origins(8501)) as srv:
        assert srv._httpd.server_address[0] == "127.0.0.1"
        tok = srv.service.register_slide(slides[0])
        assert srv.slide_url(tok) == f"http://127.0.0.1:{srv.port}/dz/{tok}.dzi"
        st, hd, body = _http(srv.port, f"/dz/{tok}.dzi", origin=ORIGIN)
        assert st == 200 and hd["Access-Control-Allow-Origin"] == ORIGIN and hd["X-Content-Type-Options"] == "nosniff"
        assert _http(srv.port, f"/dz/{tok}.dzi", host=f"localhost:{srv.port}")[0] == 200
        assert _http(srv.port, f"/dz/{tok}.dzi", host=f"rebind.example:{srv.port}")[0] == 403
        assert _http(srv.port, "/dz/../../etc/passwd")[0] == 404
        assert _http(srv.port, f"/dz/{tok}.dzi", method="POST")[0] == 405
        z = srv.service.deep_zoom(tok).level_count - 1
        st, hd, body = _http(srv.port, f"/dz/{tok}_files/{z}/0_0.jpeg")
        assert st == 200 and hd["Content-Type"] == "image/jpeg" and int(hd["Content-Length"]) == len(body)
        addrs = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
        for addr in addrs - {a for a in addrs if a.startswith("127.")}:
            with socket.socket() as s:
                s.settimeout(0.5)
                assert s.connect_ex((addr, srv.port)) != 0, f"the tile server answers on {addr}"
    with socket.socket() as s:  # closed: the port no longer answers
        s.settimeout(0.5)
        assert s.connect_ex(("127.0.0.1", srv.port)) != 0


def test_cohort_slides_only(slides, tmp_path):
    import shutil

    from memamba_core.data import load_cohort
    from tests._cohort_fixtures import make_clam_cohort

    root = make_clam_cohort(tmp_path, n_patients=2, feature_dim=4, with_pt=False, multi_slide_case=False)
    (root / "slides").mkdir()
    shutil.copy(slides[0], root / "slides" / "CASE-000-DX1.tif")
    svc = TileService(hosts={"h:1"})
    tok = svc.register_cohort_slide(load_cohort(root), "CASE-000-DX1.svs")
    assert svc.respond("GET", f"/dz/{tok}.dzi", "h:1").status == 200
    with pytest.raises(InputError, match="no slide file in cohort"):
        svc.register_cohort_slide(load_cohort(root), "CASE-001-DX1.svs")
    (root / "slides" / "CASE-001-DX1.tif").symlink_to(slides[1])       # a slide leaving the cohort folder
    with pytest.raises(InputError, match="outside the cohort folder"):
        svc.register_cohort_slide(load_cohort(root), "CASE-001-DX1.svs")
    svc.close()
