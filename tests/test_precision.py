"""``precision=fp32 | bf16 | int8``: the reduced-precision modes are real (the weights change type)
and serve exact-offset phrases; an unknown or unavailable mode is one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from keyphrase_tagger import KeyphraseExtractor
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.inference.precision import check_precision

TEXT = "完善养老服务体系，发展数字经济和金融科技，推动服务业高质量发展" * 6
BF16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()


@pytest.mark.parametrize("precision", ["int8", pytest.param("bf16", marks=pytest.mark.skipif(
    not BF16, reason="no bfloat16 instructions on this CPU"))])
def test_a_reduced_precision_extractor_runs_the_model_at_that_precision(smoke_checkpoint, precision):
    fp32 = KeyphraseExtractor.from_pretrained(smoke_checkpoint, device="cpu")
    low = KeyphraseExtractor.from_pretrained(smoke_checkpoint, device="cpu", precision=precision)
    if precision == "bf16":
        assert next(low.model.parameters()).dtype == torch.bfloat16
    else:
        quantized = [m for m in low.model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
        assert quantized and not any(type(m) is torch.nn.Linear for m in low.model.modules())
    exact, approx = fp32.predict_probs([TEXT])[0], low.predict_probs([TEXT])[0]
    assert approx.dtype == np.float32 and np.allclose(approx.sum(axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(exact, approx)  # a different forward pass ...
    assert np.abs(exact - approx).max() < 0.1  # ... computing nearly the same probabilities
    assert all(TEXT[p.start:p.end] == p.text for p in low.extract(TEXT))


def test_an_unknown_precision_is_one_line():
    with pytest.raises(ConfigError, match="precision=fp16: choose one of fp32, bf16, int8"):
        check_precision("fp16", torch.device("cpu"))


def test_int8_is_refused_off_the_cpu():
    with pytest.raises(ConfigError, match="precision=int8: .* CPU only"):
        check_precision("int8", torch.device("cuda"))


def test_kpt_predict_passes_the_precision(smoke_checkpoint, tmp_path):
    from conftest import compose

    from keyphrase_tagger.inference.predict import predict

    source = tmp_path / "in.txt"
    source.write_text(TEXT + "\n", encoding="utf-8")
    cfg = compose("predict", [f"checkpoint={smoke_checkpoint}", f"input={source}", f"output={tmp_path / 'out.jsonl'}",
                              "precision=int8", "device=cpu"])
    assert predict(cfg) == 1
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8").startswith('{"id"')
