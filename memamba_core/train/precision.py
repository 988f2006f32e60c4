"""Mixed precision for training (``TrainConfig.autocast``): bf16 / fp16 autocast on CUDA, fp16 with loss scaling.

    prec = Precision.for_device(cfg.autocast, device)
    with prec.autocast():
        loss = ...            # forward and loss
    prec.backward(loss)       # scaled for fp16
    prec.step(optimizer)      # fp16: unscale, skip on inf/NaN, update the scale; otherwise a plain step

Autocast runs on CUDA only. Asked for on another device it is *not applied*: the
contexts are no-ops, training is exactly the float32 run, and :attr:`Precision.note`
says so (the trainer writes it into the run's progress log). bf16 needs no loss
scaling (float32's exponent range); fp16 uses ``torch.amp.GradScaler``, whose
skipped steps (inf/NaN gradients) leave the weights unchanged.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

__all__ = ["Precision", "AUTOCAST_DTYPES"]

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Precision:
    """The precision a run trains in. ``requested``: off | bf16 | fp16; ``applied``: autocast is on."""

    requested: str
    applied: bool
    device: torch.device
    note: str
    scaler: torch.amp.GradScaler | None = None

    @classmethod
    def for_device(cls, requested: str, device: torch.device) -> "Precision":
        """What ``requested`` means on ``device`` (autocast applied on CUDA only)."""
        device = torch.device(device)
        if requested == "off":
            return cls("off", False, device, "float32")
        if requested not in AUTOCAST_DTYPES:
            raise ValueError(f"autocast must be off, bf16 or fp16, got {requested!r}")
        if device.type != "cuda":
            return cls(requested, False, device, f"{requested} autocast not applied: it runs on CUDA only, and this run is on "
                       f"{device.type}; trained in float32")
        scaler = torch.amp.GradScaler("cuda") if requested == "fp16" else None
        how = "with dynamic loss scaling" if scaler is not None else "no loss scaling needed"
        return cls(requested, True, device, f"{requested} autocast on {device} ({how})", scaler)

    def autocast(self):
        """Context for the forward pass and the loss."""
        if not self.applied:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=AUTOCAST_DTYPES[self.requested])

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, scaled by the fp16 loss scale."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """``optimizer.step()``; with fp16, unscaled first, skipped on inf/NaN gradients, then the scale updated.

        Returns whether the weights were stepped (False only for an fp16 step skipped on inf/NaN).
        """
        if self.scaler is None:
            optimizer.step()
            return True
        before = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        return self.scaler.get_scale() >= before  # the scale shrinks exactly when the step was skipped
