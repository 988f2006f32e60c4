"""ResNet-50 in plain torch, with torchvision's ``state_dict`` keys, and CLAM's truncation.

``ResNet50Trunc`` is torchvision's ``resnet50`` up to ``layer3`` followed by a
global average pool, as CLAM's ``resnet50_baseline``: a 256-px patch gives a
1024-d vector. Keys match torchvision (``conv1.weight``, ``bn1.*``,
``layer1.0.conv1.weight``, ``layer1.0.downsample.0.weight``, ...), so a
torchvision / CLAM ResNet-50 weights file loads after dropping ``layer4.*``
and ``fc.*``.

``width`` is the stem width (64 in ResNet-50); a smaller width gives the same
architecture at reduced cost (used by tests): output D = 16 · width.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Bottleneck", "ResNet50Trunc", "RESNET50_LAYERS"]

RESNET50_LAYERS = (3, 4, 6)  # bottleneck blocks in layer1..layer3 (layer4 has 3, dropped)


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (stride on the 3×3 conv, "ResNet v1.5"). (B, C_in, H, W) → (B, 4·planes, H/s, W/s)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + idt)


class ResNet50Trunc(nn.Module):
    """ResNet-50 through ``layer3`` + global average pool: (B, 3, H, W) → (B, 16 · width) (1024 for width 64)."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.width = width
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = width
        for i, (n, s) in enumerate(zip(RESNET50_LAYERS, (1, 2, 2))):
            planes = width * 2**i
            blocks = [Bottleneck(inplanes, planes, s)] + [Bottleneck(planes * 4, planes) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = planes * 4
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.out_dim = inplanes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return torch.flatten(self.avgpool(x), 1)
