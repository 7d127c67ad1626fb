"""Reduced-precision inference, opt in: the tagger's forward pass in bfloat16 or with int8 Linear layers.

``fp32`` is the model as trained. ``bf16`` casts the weights to bfloat16 (the forward runs in
bfloat16 where the CPU has the instructions, AVX512_BF16 or AMX, or on a CUDA device).
``int8`` quantizes the weights of every ``Linear`` layer to int8 and the activations on the fly
(``torch.ao.quantization.quantize_dynamic``; CPU only). Either way the probabilities are computed
in float32 from the logits, and the decision and the decoder are unchanged.
``benchmarks/bench_inference.py`` measures their speed and agreement with ``fp32``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from keyphrase_tagger.errors import ConfigError

if TYPE_CHECKING:  # torch is imported where a model is at hand: the config schema reads PRECISIONS
    import torch

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8")


def check_precision(precision: str, device: "torch.device") -> str:
    """``precision`` if this machine can run it on ``device``; else :class:`ConfigError` in one line."""
    import torch

    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision}: choose one of {', '.join(PRECISIONS)}")
    if precision == "int8" and device.type != "cpu":
        raise ConfigError(f"precision=int8: dynamic int8 quantization runs on the CPU only, not on {device.type}; "
                          "use precision=bf16 there")
    if precision == "bf16" and device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        raise ConfigError("precision=bf16: this CPU has no bfloat16 instructions (AVX512_BF16 or AMX); "
                          "use precision=int8 or fp32")
    return precision


def apply_precision(model: "torch.nn.Module", precision: str) -> "torch.nn.Module":
    """``model`` (in evaluation mode) at ``precision``, checked by :func:`check_precision`."""
    import torch

    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "int8":
        with warnings.catch_warnings():
            # torch marks its quantized tensor API deprecated; quantize_dynamic is still its int8 path.
            warnings.simplefilter("ignore", category=(UserWarning, DeprecationWarning, FutureWarning))
            return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model
