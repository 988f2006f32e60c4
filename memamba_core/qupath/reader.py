"""Reading QuPath GeoJSON (a pathologist's annotations, or our own export) safely.

Accepted: a ``FeatureCollection``, a single ``Feature`` or a JSON array of
features (the three shapes QuPath writes). Each feature's ``properties`` may
hold ``objectType`` (``annotation``, ``detection``, ``cell``, ``tile``, QuPath's
legacy class names, ``object_type``; missing = annotation, as QuPath reads it),
``classification`` (``name`` and ``color`` ``[r, g, b]`` or legacy
``colorRGB``), ``name``, ``color`` and ``measurements`` (a map, or the pre-0.4
list of ``{name, value}``). Areas only: ``Polygon`` and ``MultiPolygon``
(holes kept) are read; points and lines are counted and left out.

Everything else is an :class:`InputError` that names the file and the feature
(its index and name) and says what is wrong: not JSON, not GeoJSON, a
geometry that is not valid (self-intersecting, too few points — shapely's
reason is given), non-finite coordinates, coordinates outside the slide when
its size is given (annotations of another slide). Size is bounded before
parsing (bytes) and while reading (features, vertices), so a huge or hostile
file is refused instead of filling memory.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity

from ..errors import InputError

__all__ = ["QuPathObject", "QuPathFile", "read_qupath_geojson", "parse_qupath_bytes", "parse_qupath_geojson", "LIMITS"]

#: Bounds on what is read: file bytes, features, total polygon vertices.
LIMITS = {"max_bytes": 256 << 20, "max_features": 500_000, "max_vertices": 20_000_000}

_TYPES = {
    "annotation": "annotation", "pathannotationobject": "annotation", "unknown": "annotation",
    "detection": "detection", "pathdetectionobject": "detection",
    "cell": "cell", "pathcellobject": "cell", "tile": "tile", "pathtileobject": "tile",
    "tmacore": "tmaCore", "tma_core": "tmaCore", "tmacoreobject": "tmaCore",
}


@dataclass(frozen=True)
class QuPathObject:
    """One area object. ``geometry``: a valid shapely Polygon or MultiPolygon in level-0 pixels."""

    object_type: str
    geometry: Polygon | MultiPolygon
    class_name: str | None = None
    colour: tuple[int, int, int] | None = None
    name: str | None = None
    measurements: dict[str, float] = field(default_factory=dict)
    id: str | None = None


@dataclass
class QuPathFile:
    """The objects of one file, and what was left out (``skipped``: notes naming the features)."""

    source: str
    objects: list[QuPathObject]
    skipped: list[str]

    def annotations(self) -> list[QuPathObject]:
        return [o for o in self.objects if o.object_type == "annotation"]

    def classes(self) -> list[str]:
        """Class names of the annotations, in first-seen order (unclassified ones as ``"Unclassified"``)."""
        seen: dict[str, None] = {}
        for o in self.annotations():
            seen.setdefault(o.class_name or "Unclassified", None)
        return list(seen)


def _where(src: str, i: int, props: dict) -> str:
    nm = props.get("name") if isinstance(props, dict) else None
    return f"{src}: feature {i}" + (f" ({str(nm)[:60]!r})" if isinstance(nm, str) and nm else "")


def _colour(v, where: str) -> tuple[int, int, int] | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise InputError(f"{where}: a colour must be [r, g, b] or a packed integer, got {v!r}.")
    if isinstance(v, int):
        v &= 0xFFFFFF
        return (v >> 16) & 255, (v >> 8) & 255, v & 255
    if isinstance(v, list) and len(v) == 3 and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255
                                                   for c in v):
        return int(v[0]), int(v[1]), int(v[2])
    raise InputError(f"{where}: a colour must be [r, g, b] with values 0-255, got {str(v)[:60]}.")


def _measurements(v, where: str) -> dict[str, float]:
    if v is None:
        return {}
    items = v.items() if isinstance(v, dict) else None
    if items is None and isinstance(v, list):
        try:
            items = [(m["name"], m["value"]) for m in v]
        except (TypeError, KeyError):
            raise InputError(f"{where}: measurements must be a name → number map or a list of {{name, value}}.") from None
    if items is None:
        raise InputError(f"{where}: measurements must be a name → number map, got {type(v).__name__}.")
    out = {}
    for k, x in items:
        if x is None:   # QuPath writes a NaN measurement as null: a missing value
            continue
        if not isinstance(k, str) or isinstance(x, bool) or not isinstance(x, (int, float)):
            raise InputError(f"{where}: measurement {str(k)[:40]!r} is not a number ({str(x)[:40]}).")
        out[k] = float(x)
    return out


def _geometry(g, where: str):
    if not isinstance(g, dict) or "type" not in g:
        raise InputError(f"{where}: has no GeoJSON geometry object.")
    kind = g.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        return None, kind
    try:
        geom = shape(g)
    except Exception as err:  # shapely raises several types for malformed coordinates
        raise InputError(f"{where}: its {kind} coordinates are malformed ({type(err).__name__}: {err}).") from None
    if geom.is_empty:
        raise InputError(f"{where}: its {kind} is empty.")
    xmin, ymin, xmax, ymax = geom.bounds
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        raise InputError(f"{where}: its coordinates are not finite numbers.")
    if not geom.is_valid:
        raise InputError(f"{where}: its {kind} is not a valid polygon ({explain_validity(geom)}); "
                         f"fix it in QuPath (e.g. Objects → Annotations → Simplify/Fill holes) and export again.")
    return geom, kind


def _vertices(g: dict) -> int:
    c = g.get("coordinates")
    if g.get("type") == "Polygon" and isinstance(c, list):
        return sum(len(r) if isinstance(r, list) else 0 for r in c)
    if g.get("type") == "MultiPolygon" and isinstance(c, list):
        return sum(sum(len(r) if isinstance(r, list) else 0 for r in p) if isinstance(p, list) else 0 for p in c)
    return 0


def parse_qupath_geojson(data, source: str = "GeoJSON", slide_size: tuple[int, int] | None = None,
                         limits: dict | None = None) -> QuPathFile:
    """The objects of already-parsed GeoJSON ``data`` (see the module doc). ``slide_size``: level-0 (W, H)."""
    lim = {**LIMITS, **(limits or {})}
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        feats = data.get("features")
        if not isinstance(feats, list):
            raise InputError(f"{source}: a FeatureCollection needs a 'features' list.")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        feats = [data]
    elif isinstance(data, list):
        feats = data
    else:
        raise InputError(f"{source}: not QuPath GeoJSON (expected a FeatureCollection, a Feature or a list of features).")
    if len(feats) > lim["max_features"]:
        raise InputError(f"{source}: {len(feats)} features is more than the {lim['max_features']} this viewer reads; "
                         f"export only the annotations (not the detections) from QuPath.")
    objects, skipped, vertices = [], [], 0
    for i, f in enumerate(feats):
        props = f.get("properties") if isinstance(f, dict) else None
        props = props if isinstance(props, dict) else {}
        where = _where(source, i, props)
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise InputError(f"{where}: is not a GeoJSON Feature.")
        vertices += _vertices(f.get("geometry") or {})
        if vertices > lim["max_vertices"]:
            raise InputError(f"{source}: more than {lim['max_vertices']} polygon vertices; simplify the annotations "
                             f"in QuPath before exporting.")
        raw_type = props.get("objectType", props.get("object_type", props.get("type", "unknown")))
        otype = _TYPES.get(str(raw_type).lower()) if isinstance(raw_type, str) else None
        if otype is None:
            otype = "annotation"   # QuPath reads an unknown type as an annotation
        geom, kind = _geometry(f.get("geometry"), where)
        if geom is None:
            skipped.append(f"{where}: a {kind}, not an area; left out.")
            continue
        if slide_size is not None:
            _inside_slide(geom, slide_size, where)
        cls = props.get("classification")
        cname, ccol = None, None
        if isinstance(cls, dict):
            cname = cls.get("name") if isinstance(cls.get("name"), str) else None
            ccol = _colour(cls.get("color", cls.get("colorRGB")), where)
        elif isinstance(cls, str):
            cname = cls
        name = props.get("name") if isinstance(props.get("name"), str) else None
        colour = ccol or _colour(props.get("color"), where)
        objects.append(QuPathObject(otype, geom, cname, colour, name, _measurements(props.get("measurements"), where),
                                    f.get("id") if isinstance(f.get("id"), str) else None))
    return QuPathFile(source, objects, skipped)


def _inside_slide(geom, slide_size: tuple[int, int], where: str) -> None:
    W, H = slide_size
    xmin, ymin, xmax, ymax = geom.bounds
    tol_x, tol_y = 0.02 * W, 0.02 * H   # annotations drawn a little past the edge are normal
    if xmin < -tol_x or ymin < -tol_y or xmax > W + tol_x or ymax > H + tol_y:
        raise InputError(
            f"{where}: lies at level-0 x {xmin:.0f}–{xmax:.0f}, y {ymin:.0f}–{ymax:.0f}, outside this slide "
            f"({W} × {H} px); these annotations belong to another slide (or were exported at another scale)."
        )


def read_qupath_geojson(path: str | Path, slide_size: tuple[int, int] | None = None,
                        limits: dict | None = None) -> QuPathFile:
    """Read a QuPath GeoJSON file (``.geojson`` / ``.json``); see the module doc for what is accepted."""
    p = Path(path)
    lim = {**LIMITS, **(limits or {})}
    if not p.is_file():
        raise InputError(f"{p}: no such GeoJSON file.")
    size = p.stat().st_size
    if size > lim["max_bytes"]:
        raise InputError(f"{p.name}: {size / 2**20:.0f} MiB is more than the {lim['max_bytes'] / 2**20:.0f} MiB this "
                         f"viewer reads; export only the annotations from QuPath.")
    return parse_qupath_bytes(p.read_bytes(), p.name, slide_size, lim)


def parse_qupath_bytes(raw: bytes, source: str, slide_size=None, limits: dict | None = None) -> QuPathFile:
    """Parse uploaded bytes (e.g. from the dashboard's file uploader) with the same checks as a file."""
    lim = {**LIMITS, **(limits or {})}
    if len(raw) > lim["max_bytes"]:
        raise InputError(f"{source}: {len(raw) / 2**20:.0f} MiB is more than the "
                         f"{lim['max_bytes'] / 2**20:.0f} MiB this viewer reads.")
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_no_constant, parse_float=_finite_float)
    except InputError as err:
        raise InputError(f"{source}: {err}") from None
    except UnicodeDecodeError:
        raise InputError(f"{source}: not UTF-8 text; export the annotations from QuPath as GeoJSON.") from None
    except RecursionError:
        raise InputError(f"{source}: nested too deeply to be GeoJSON.") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{source}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}).") from None
    return parse_qupath_geojson(data, source, slide_size, lim)


def _no_constant(name: str):
    raise InputError(f"it holds {name}, which is not a number; coordinates and measurements must be finite.")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise InputError(f"it holds {text}, which overflows to infinity; coordinates and measurements must be finite.")
    return v
