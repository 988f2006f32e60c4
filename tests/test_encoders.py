"""Encoders: the built-in one, ResNet-50-truncated and ViT from local weight files, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memamba_core.errors import InputError
from memamba_core.features import (
    ARCHITECTURES, BUILTIN_DIM, ResNet50Trunc, VisionTransformer, builtin_encoder, load_encoder, read_state_dict,
)


def _patches(n: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 256, 256, 3), dtype=np.uint8)


def test_builtin_is_deterministic_and_shaped():
    x = _patches()
    a, b = builtin_encoder(), builtin_encoder()
    fa, fb = a(x), b(x)
    assert fa.shape == (4, BUILTIN_DIM) and fa.dtype == torch.float32
    assert torch.equal(fa, fb)
    assert torch.isfinite(fa).all()
    assert not torch.equal(fa, builtin_encoder(seed=1)(x))
    assert torch.allclose(a(torch.from_numpy(x)), fa)  # numpy or torch uint8 input


def test_builtin_separates_colour_and_texture():
    rng = np.random.default_rng(0)
    pink = np.clip(rng.normal((230, 150, 200), 8, (4, 256, 256, 3)), 0, 255).astype(np.uint8)
    purple = pink.copy()
    purple[:, ::8, ::8] = (60, 40, 120)  # dark dots: "nuclei"
    f = builtin_encoder()
    d_between = (f(pink).mean(0) - f(purple).mean(0)).norm()
    d_within = (f(pink[:2]).mean(0) - f(pink[2:]).mean(0)).norm()
    assert d_between > 10 * d_within


def test_float_input_matches_uint8_path():
    x = _patches(2)
    enc = load_encoder("builtin")
    xf = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0
    assert torch.allclose(enc(xf), enc(x), atol=1e-4)
    with pytest.raises(ValueError, match="uint8 batches"):
        enc(np.zeros((1, 3, 32, 32), np.uint8))


def test_resnet50_trunc_has_torchvision_keys():
    sd = ResNet50Trunc().state_dict()
    assert {"conv1.weight", "bn1.running_mean", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.weight",
            "layer2.3.conv3.weight", "layer3.5.bn3.bias"} <= set(sd)
    assert not any(k.startswith(("layer4.", "fc.")) for k in sd)
    assert sd["layer3.5.conv3.weight"].shape == (1024, 256, 1, 1)
    assert sum(v.numel() for k, v in sd.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))) == 8_543_296


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_user_resnet_weights_extract(tmp_path, suffix):
    """A small random-initialised ResNet-50 (width 8) saved as a torchvision-style file, layer4/fc included."""
    torch.manual_seed(0)
    net = ResNet50Trunc(width=8)
    sd = dict(net.state_dict())
    sd["layer4.0.conv1.weight"] = torch.zeros(16, 32, 1, 1)  # parts a full resnet50 file has; ignored
    sd["fc.weight"] = torch.zeros(10, 64)
    path = tmp_path / f"resnet{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    else:
        torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}}, path)
    enc = load_encoder("resnet50_trunc", path)
    assert enc.output_dim == 128 and enc.name == "resnet50_trunc"
    x = _patches(3)
    out = enc(x)
    assert out.shape == (3, 128)
    with torch.no_grad():
        ref = net.eval()(enc.preprocess(x))
    assert torch.allclose(out, ref, atol=1e-5)


def test_vit_small_from_timm_layout(tmp_path):
    torch.manual_seed(0)
    vit = VisionTransformer(dim=384, depth=12, layerscale=True)
    sd = dict(vit.state_dict())
    sd["head.weight"], sd["head.bias"] = torch.zeros(1000, 384), torch.zeros(1000)
    assert {"cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.11.attn.qkv.weight", "blocks.0.ls1.gamma",
            "blocks.0.mlp.fc2.bias", "norm.weight"} <= set(sd)
    torch.save(sd, tmp_path / "vit.pth")
    enc = load_encoder("vit_small_patch16_224", tmp_path / "vit.pth")
    out = enc(_patches(2))  # 256-px patches are resized to 224
    assert out.shape == (2, 384) and torch.isfinite(out).all()
    with pytest.raises(InputError, match="does not match 'vit_base_patch16_224'"):
        load_encoder("vit_base_patch16_224", tmp_path / "vit.pth")


def test_unknown_architecture():
    with pytest.raises(InputError, match="unknown encoder architecture 'resnet152'"):
        load_encoder("resnet152", None)
    assert "resnet50_trunc" in ARCHITECTURES


def test_mismatched_weights_name_the_file(tmp_path):
    sd = ResNet50Trunc(width=8).state_dict()
    missing = {k: v for k, v in sd.items() if not k.startswith("layer3.5.")}  # a shallower network
    torch.save(missing, tmp_path / "shallow.pth")
    with pytest.raises(InputError, match=r"shallow.pth.*do not fit architecture 'resnet50_trunc'.*missing"):
        load_encoder("resnet50_trunc", tmp_path / "shallow.pth")
    wrong = dict(sd)
    wrong["layer2.0.conv2.weight"] = torch.zeros(3, 3, 3, 3)
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(InputError, match="wrong shape"):
        load_encoder("resnet50_trunc", tmp_path / "wrong.pth")
    extra = dict(sd)
    extra["projector.weight"] = torch.zeros(4, 4)
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(InputError, match="unexpected"):
        load_encoder("resnet50_trunc", tmp_path / "extra.pth")
    torch.save(VisionTransformer(dim=384, depth=1).state_dict(), tmp_path / "vit.pth")
    with pytest.raises(InputError, match="vit.pth.*not a torchvision-style ResNet-50"):
        load_encoder("resnet50_trunc", tmp_path / "vit.pth")


def test_bad_weight_files(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"\x00not a checkpoint")
    with pytest.raises(InputError, match="junk.pth.*cannot be read"):
        load_encoder("resnet50_trunc", tmp_path / "junk.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(InputError, match="list.pth.*state_dict"):
        read_state_dict(tmp_path / "list.pth")
    with pytest.raises(InputError, match="no such weights file"):
        load_encoder("resnet50_trunc", tmp_path / "absent.pth")
    with pytest.raises(InputError, match="needs a local weights file"):
        load_encoder("resnet50_trunc")
    with pytest.raises(InputError, match="builtin encoder has fixed weights"):
        load_encoder("builtin", tmp_path / "junk.pth")
