"""Patch feature extraction with a pluggable encoder, written in CLAM's ``pt_files/`` + ``h5_files/`` layout."""

from .builtin import BUILTIN_DIM, BUILTIN_NAME, BuiltinNet, builtin_encoder
from .encoder import IMAGENET_MEAN, IMAGENET_STD, Encoder
from .extract import (
    ExtractionReport, Progress, extract_folder, extract_slide, is_done, list_slides, slide_id_of, write_features,
)
from .loading import ARCHITECTURES, load_encoder, read_state_dict
from .resnet import ResNet50Trunc
from .vit import VIT_PRESETS, VisionTransformer

__all__ = [
    "Encoder", "IMAGENET_MEAN", "IMAGENET_STD",
    "builtin_encoder", "BuiltinNet", "BUILTIN_NAME", "BUILTIN_DIM",
    "load_encoder", "read_state_dict", "ARCHITECTURES", "ResNet50Trunc", "VisionTransformer", "VIT_PRESETS",
    "extract_folder", "extract_slide", "write_features", "is_done", "list_slides", "slide_id_of",
    "ExtractionReport", "Progress",
]
