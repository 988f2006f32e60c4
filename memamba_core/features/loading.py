"""Building an encoder by name, with weights from a local file (never from a hub).

Architectures (:data:`ARCHITECTURES`):

* ``builtin`` — :func:`~memamba_core.features.builtin.builtin_encoder`, no weights file;
* ``resnet50_trunc`` — ResNet-50 to ``layer3`` + average pool (CLAM), torchvision keys,
  ImageNet normalisation, any input size (CLAM feeds 256-px patches): D = 1024;
* ``vit_small_patch16_224`` / ``vit_base_patch16_224`` / ``vit_large_patch16_224`` — timm keys,
  224-px input (patches are resized), ImageNet normalisation: D = 384 / 768 / 1024.

Weights files: ``.safetensors``, or a PyTorch file read with ``torch.load(...,
weights_only=True)``; a checkpoint dict holding ``state_dict`` / ``model`` is unwrapped and a
``module.`` prefix (DataParallel) is stripped. Keys the truncated model does not use
(``layer4.*``, ``fc.*``, ``head.*``) are ignored; anything else missing, extra or of the
wrong shape is an :class:`~memamba_core.errors.InputError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import InputError
from .builtin import builtin_encoder
from .encoder import IMAGENET_MEAN, IMAGENET_STD, Encoder
from .resnet import ResNet50Trunc
from .vit import VIT_PRESETS, VisionTransformer

__all__ = ["load_encoder", "read_state_dict", "ARCHITECTURES"]

ARCHITECTURES = ("builtin", "resnet50_trunc") + tuple(VIT_PRESETS)
_IGNORED_PREFIXES = {"resnet50_trunc": ("layer4.", "fc."), "vit": ("head.", "head_drop.")}


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file (see module doc). Raises InputError naming the file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"{p}: no such weights file; give the path of a local .pth / .pt / .safetensors file.")
    try:
        if p.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(p), device="cpu")
        else:
            obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as err:  # pickle / zip / safetensors header errors
        raise InputError(
            f"{p}: cannot be read as a weights file ({type(err).__name__}: {err}); give a PyTorch state_dict "
            f"saved with torch.save(model.state_dict(), ...) or a .safetensors file."
        ) from err
    for key in ("state_dict", "model", "teacher"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{p}: does not hold a state_dict (a mapping of parameter names to tensors).")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def _load_into(model: nn.Module, sd: dict[str, torch.Tensor], ignored: tuple[str, ...], path: Path, arch: str) -> None:
    sd = {k: v for k, v in sd.items() if not k.startswith(ignored)}
    own = model.state_dict()
    missing = [k for k in own if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in own]
    wrong = [f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in own if k in sd and sd[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if items:
                more = f" and {len(items) - 4} more" if len(items) > 4 else ""
                parts.append(f"{len(items)} {label} ({', '.join(items[:4])}{more})")
        raise InputError(
            f"{path}: these weights do not fit architecture '{arch}': {'; '.join(parts)}. "
            f"Pick the architecture the file was trained with (one of {', '.join(ARCHITECTURES)})."
        )
    model.load_state_dict(sd, strict=False)


def load_encoder(arch: str = "builtin", weights_path: str | Path | None = None, device: str = "cpu") -> Encoder:
    """An :class:`Encoder` of architecture ``arch`` with weights from ``weights_path``.

    ``builtin`` takes no weights file; the others need one. Raises :class:`InputError` for an
    unknown architecture, a missing or unreadable file, or weights that do not fit.
    """
    if arch not in ARCHITECTURES:
        raise InputError(f"unknown encoder architecture '{arch}'; choose one of {', '.join(ARCHITECTURES)}.")
    if arch == "builtin":
        if weights_path is not None:
            raise InputError(f"{weights_path}: the builtin encoder has fixed weights; do not pass a weights file.")
        return builtin_encoder(device=device)
    if weights_path is None:
        raise InputError(f"encoder '{arch}' needs a local weights file (weights_path); nothing is downloaded.")
    path = Path(weights_path).expanduser()
    sd = read_state_dict(path)
    if arch == "resnet50_trunc":
        w = sd.get("conv1.weight")
        if w is None or w.ndim != 4 or w.shape[1] != 3:
            raise InputError(f"{path}: no 'conv1.weight' (C, 3, 7, 7) tensor; this is not a torchvision-style ResNet-50 state_dict.")
        model = ResNet50Trunc(width=int(w.shape[0]))
        _load_into(model, sd, _IGNORED_PREFIXES[arch], path, arch)
        return Encoder(arch, model, model.out_dim, IMAGENET_MEAN, IMAGENET_STD, input_size=None, device=device)
    dim, depth = VIT_PRESETS[arch]
    pe = sd.get("patch_embed.proj.weight")
    pos = sd.get("pos_embed")
    if pe is None or pos is None:
        raise InputError(f"{path}: no 'patch_embed.proj.weight' / 'pos_embed'; this is not a timm ViT state_dict.")
    if pe.shape[0] != dim:
        raise InputError(f"{path}: embedding width {pe.shape[0]} does not match '{arch}' (D = {dim}); pick the matching ViT size.")
    patch = int(pe.shape[-1])
    n = (224 // patch) ** 2
    if pos.shape[1] not in (n, n + 1):
        raise InputError(f"{path}: pos_embed has {pos.shape[1]} positions; '{arch}' at 224 px expects {n + 1}.")
    hidden = sd.get("blocks.0.mlp.fc1.weight")
    model = VisionTransformer(
        dim=dim, depth=depth, patch=patch, img=224,
        mlp_hidden=int(hidden.shape[0]) if hidden is not None else None,
        layerscale="blocks.0.ls1.gamma" in sd, pos_with_cls=pos.shape[1] == n + 1,
    )
    _load_into(model, sd, _IGNORED_PREFIXES["vit"], path, arch)
    return Encoder(arch, model, dim, IMAGENET_MEAN, IMAGENET_STD, input_size=224, device=device)
