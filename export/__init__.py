"""Checkpoint -> self-describing fixed-step ONNX (and TensorRT) policy artifacts."""

from common.compat import require_python

require_python("genpo-export")  # before the imports that need torch

from export.exporter import ExportOptions, ExportResult, export_checkpoint, export_policy
from export.from_onnx import import_onnx

__all__ = ["ExportOptions", "ExportResult", "export_checkpoint", "export_policy", "import_onnx"]
