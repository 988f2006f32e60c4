"""Synthetic H&E tissue textures, one periodic tile per tissue class.

Each class is drawn as hematoxylin and eosin concentration maps (cH, cE) and
turned into RGB by Beer–Lambert absorption, ``RGB = 255 · exp(-(cH·h + cE·e))``
with Ruifrok's stain vectors h, e. Tiles are ``T × T`` pixels at 0.5 µm/px and
periodic (built from FFT-filtered noise and FFT convolution), so a slide can be
painted from them at any offset without seams. Classes (:data:`CLASSES`):

0 background — near-white glass; 1 tumour — dense large pleomorphic nuclei;
2 stroma — eosinophilic fibres with sparse spindle nuclei; 3 immune — packed
small round lymphocyte nuclei; 4 necrosis — pink granular debris with nuclear
dust; 5 fat — empty adipocytes with thin membranes; 6 high_grade — high-grade tumour:
solid sheets of crowded, very large hyperchromatic nuclei with scant cytoplasm and
mitotic figures (the demo's risk-driving tissue, found inside tumour regions).
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy.spatial import cKDTree

__all__ = ["CLASSES", "TUMOUR", "HIGH_GRADE", "make_texture_bank", "stain_lut"]

CLASSES = ("background", "tumour", "stroma", "immune", "necrosis", "fat", "high_grade")
TUMOUR = 1
HIGH_GRADE = 6
_H = np.array([0.65, 0.70, 0.29])   # hematoxylin OD per unit concentration (R, G, B)
_E = np.array([0.07, 0.99, 0.11])   # eosin
_H = _H / np.linalg.norm(_H)
_E = _E / np.linalg.norm(_E)


def _freqs(T: int) -> tuple[np.ndarray, np.ndarray]:
    """(fy, fx) grids of the real FFT of a (T, T) image, float32."""
    fy = np.fft.fftfreq(T).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(T).astype(np.float32)[None, :]
    return fy, fx


def _noise(rng: np.random.Generator, T: int, sigma: float, aniso: float = 1.0, angle: float = 0.0) -> np.ndarray:
    """Periodic Gaussian-filtered noise, zero mean, unit std: (T, T). ``sigma`` in px; ``aniso`` > 1 stretches along ``angle``."""
    fy, fx = _freqs(T)
    c, s = np.cos(angle), np.sin(angle)
    u, v = fx * c + fy * s, -fx * s + fy * c
    env = np.exp(-2 * (np.pi * sigma) ** 2 * ((u * aniso) ** 2 + (v / aniso) ** 2)).astype(np.float32)
    white = rng.standard_normal((T, T), dtype=np.float32)
    out = sfft.irfft2(sfft.rfft2(white) * env, s=(T, T))
    out -= out.mean()
    return out / (out.std() + 1e-12)


def _blobs(rng: np.random.Generator, T: int, density: float, radius: tuple[float, float], elong: float = 1.0,
           angle: float | None = None, n_kinds: int = 3) -> np.ndarray:
    """Periodic map of soft elliptical nuclei in [0, 1]: (T, T).

    ``density``: nuclei per pixel; radii drawn in ``radius`` (px); ``elong``: long/short axis ratio;
    ``angle``: fixed orientation (None = random per kind). Built as points ⊛ kernels with FFT.
    """
    spec = np.zeros((T, T // 2 + 1), np.complex64)
    n = rng.poisson(density * T * T)
    for k in range(n_kinds):
        m = n // n_kinds
        flat = rng.integers(0, T, m) * T + rng.integers(0, T, m)
        pts = np.bincount(flat, minlength=T * T).reshape(T, T).astype(np.float32)
        r = rng.uniform(*radius)
        a = rng.uniform(0, np.pi) if angle is None else angle + rng.normal(0, 0.15)
        R = int(np.ceil(r * elong)) + 2
        yy, xx = np.mgrid[-R:R + 1, -R:R + 1]
        u = (xx * np.cos(a) + yy * np.sin(a)) / (r * elong)
        v = (-xx * np.sin(a) + yy * np.cos(a)) / r
        ker = np.clip(1.5 - 1.5 * (u**2 + v**2), 0, 1).astype(np.float32)
        kt = np.zeros((T, T), np.float32)
        kt[np.ix_(np.arange(-R, R + 1) % T, np.arange(-R, R + 1) % T)] = ker
        spec += sfft.rfft2(pts) * sfft.rfft2(kt)
    return np.clip(sfft.irfft2(spec, s=(T, T)), 0, 1)


def _voronoi_membranes(rng: np.random.Generator, T: int, cell: float, width: float) -> np.ndarray:
    """Periodic adipocyte membranes in [0, 1]: (T, T). ``cell``: mean cell diameter (px)."""
    n = max(4, int(T * T / (cell * cell)))
    seeds = rng.uniform(0, T, (n, 2))
    tree = cKDTree(seeds, boxsize=T)
    h = T // 2
    g = (np.arange(h) + 0.5) * 2
    yy, xx = np.meshgrid(g, g, indexing="ij")
    d, _ = tree.query(np.stack([yy.ravel(), xx.ravel()], 1), k=2)
    gap = (d[:, 1] - d[:, 0]).reshape(h, h)
    mem = np.clip(1.0 - gap / width, 0, 1)
    return np.repeat(np.repeat(mem, 2, 0), 2, 1)


def _rgb(cH: np.ndarray, cE: np.ndarray) -> np.ndarray:
    od = cH[..., None].astype(np.float32) * _H.astype(np.float32) + cE[..., None].astype(np.float32) * _E.astype(np.float32)
    return np.clip(255.0 * np.exp(-od) + 0.5, 0, 255).astype(np.uint8)


def _class_maps(c: int, rng: np.random.Generator, T: int) -> tuple[np.ndarray, np.ndarray]:
    fine = _noise(rng, T, 1.2)
    if c == 0:
        return 0.004 + 0.004 * np.abs(fine), 0.02 + 0.008 * _noise(rng, T, 30)
    if c == 1:  # tumour: nests of large pleomorphic nuclei, purple cytoplasm
        nuc = _blobs(rng, T, 1 / 520, (6.0, 9.5), elong=1.3)
        nests = _noise(rng, T, 40)
        lumen = np.clip((nests - 1.6) * 3, 0, 1)            # occasional clear spaces
        chrom = 0.85 + 0.25 * fine
        cH = (0.14 + 0.08 * _noise(rng, T, 6)) * (1 - lumen) + 1.25 * nuc * chrom
        cE = (0.42 + 0.10 * _noise(rng, T, 10)) * (1 - 0.8 * lumen) + 0.1 * nuc
        return cH, cE
    if c == 2:  # stroma: wavy eosinophilic fibres, sparse spindle nuclei
        ang = rng.uniform(0, np.pi)
        fib = _noise(rng, T, 4.0, aniso=5.0, angle=ang)
        waves = np.abs(np.sin(2.2 * fib + 0.8 * _noise(rng, T, 25)))
        nuc = _blobs(rng, T, 1 / 3200, (2.5, 3.5), elong=3.5, angle=ang + np.pi / 2, n_kinds=2)
        cE = 0.35 + 0.55 * waves + 0.05 * fine
        cH = 0.05 + 1.1 * nuc * (0.9 + 0.2 * fine)
        return cH, cE
    if c == 3:  # immune: packed small round dark lymphocyte nuclei
        nuc = _blobs(rng, T, 1 / 110, (3.6, 4.6), elong=1.05)
        cH = 0.10 + 1.55 * nuc * (0.9 + 0.15 * fine)
        cE = 0.16 + 0.08 * _noise(rng, T, 8)
        return cH, cE
    if c == 4:  # necrosis: pink granular debris, nuclear dust, ghost outlines
        dust = _blobs(rng, T, 1 / 260, (1.4, 2.4), elong=1.2)
        mott = _noise(rng, T, 18)
        cE = 0.55 + 0.15 * mott + 0.12 * _noise(rng, T, 1.8)
        cH = 0.22 + 0.06 * mott + 0.9 * dust
        return cH, cE
    if c == 6:  # high-grade tumour: crowded large hyperchromatic nuclei, scant cytoplasm, mitoses
        nuc = _blobs(rng, T, 1 / 480, (8.0, 12.0), elong=1.5, n_kinds=4)
        mit = _blobs(rng, T, 1 / 9000, (2.0, 3.0), elong=4.0, n_kinds=2)
        cH = (0.24 + 0.08 * _noise(rng, T, 5)) + 1.6 * nuc * (0.8 + 0.35 * fine) + 1.6 * mit
        cE = (0.30 + 0.08 * _noise(rng, T, 10)) + 0.05 * nuc
        return cH, cE
    # fat: empty adipocytes (diameter ~50 µm), thin pink membranes, rare flat nuclei
    mem = _voronoi_membranes(rng, T, cell=100.0, width=3.0)
    nuc = _blobs(rng, T, 1 / 40000, (2.0, 3.0), elong=3.0, n_kinds=1) * mem
    cE = 0.03 + 0.55 * mem + 0.01 * fine
    cH = 0.01 + 0.9 * nuc
    return cH, cE


def make_texture_bank(seed: int, T: int = 1024) -> np.ndarray:
    """(C, T, T, 3) uint8 periodic RGB tiles, one per class of :data:`CLASSES`; same ``seed`` → same bank."""
    bank = np.empty((len(CLASSES), T, T, 3), np.uint8)
    for c in range(len(CLASSES)):
        rng = np.random.default_rng([seed, c])
        bank[c] = _rgb(*_class_maps(c, rng, T))
    return bank


def stain_lut(rng: np.random.Generator, spread: float = 0.12) -> np.ndarray:
    """(3, 256) uint8 per-channel lookup table: scales each channel's optical density by
    a factor in ``1 ± spread`` (slide-to-slide stain variation); white stays white."""
    g = rng.uniform(1 - spread, 1 + spread, 3)
    v = np.arange(256) / 255.0
    return np.clip(255.0 * np.power(np.maximum(v, 1e-6)[None, :], g[:, None]) + 0.5, 0, 255).astype(np.uint8)
