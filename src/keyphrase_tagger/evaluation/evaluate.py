"""``evaluate(cfg)``: a checkpoint on a split (or a whole other corpus) -> report.json/.md + plots."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.checkpoint import CheckpointSettings
from keyphrase_tagger.data.prepare import prepare_corpus
from keyphrase_tagger.errors import ConfigError, CorpusFormatError
from keyphrase_tagger.evaluation.analysis import frequent_errors, scores_by_length
from keyphrase_tagger.evaluation.baselines import baseline_reports
from keyphrase_tagger.evaluation.report import (
    LEARNING_CURVE_PNG,
    SCORES_BY_LENGTH_PNG,
    markdown_report,
    plot_learning_curve,
    plot_scores_by_length,
)
from keyphrase_tagger.evaluation.scoring import score_documents
from keyphrase_tagger.inference.extractor import KeyphraseExtractor
from keyphrase_tagger.lexicon import Lexicon
from keyphrase_tagger.records import Document

log = logging.getLogger(__name__)
SPLIT_CHOICES = ("train", "validation", "test", "all")
REPORT_FILES = ("report.json", "report.md", SCORES_BY_LENGTH_PNG, LEARNING_CURVE_PNG)


def calibration_documents(train_data_cfg: dict) -> list[Document]:
    """The validation split of the training corpus: where the calibrated gazetteer's threshold is chosen.

    Evaluating another corpus must not need the training file; without it the threshold falls back
    to the default, and the report says so (``validation_documents: 0``).
    """
    try:
        return [d.document for d in prepare_corpus(train_data_cfg).split("validation")]
    except CorpusFormatError as err:
        log.warning("calibration on the training validation split impossible (%s): default threshold", err)
        return []


def build_report(checkpoint: str | Path, split: str = "test", corpus_path: str | None = None,
                 device: str = "auto", batch_size: int = 32) -> dict:
    """The report dictionary (see README, "Evaluation") for ``checkpoint`` on ``split``.

    The gold lists get the checkpoint's cleaning; ``split`` other than ``all`` rebuilds the
    training run's document split of its corpus (or of ``corpus_path`` when given).
    """
    if split not in SPLIT_CHOICES:
        raise ConfigError(f"split must be one of {SPLIT_CHOICES}, got {split!r}")
    settings = CheckpointSettings.load(checkpoint)
    lexicon = Lexicon.load(checkpoint)
    train_data_cfg = dict(settings.data)
    data_cfg = dict(train_data_cfg, corpus_path=str(corpus_path or train_data_cfg["corpus_path"]))
    prepared = prepare_corpus(data_cfg)
    labeled = prepared.split(split)
    if not labeled:
        raise ConfigError(f"split {split!r} of {data_cfg['corpus_path']} holds no document; use split=all")
    documents = [d.document for d in labeled]
    # Calibration always uses the validation split of the training corpus, never the evaluated one.
    if corpus_path:
        validation = calibration_documents(train_data_cfg)
    else:
        validation = [d.document for d in prepared.split("validation")]

    extractor = KeyphraseExtractor.from_pretrained(checkpoint, device=device, batch_size=batch_size)
    predictions = extractor.predict([d.text for d in documents])
    report = score_documents(documents, [d.tags for d in labeled], predictions, settings.cleaning)
    baselines = baseline_reports(lexicon, documents, validation)
    gold = [row["gold"] for row in report["per_document"]]
    for name, b in baselines.items():
        predicted = b.pop("predicted")
        b["by_length"] = scores_by_length(predicted, gold)
        for row, pred in zip(report["per_document"], predicted):
            row.setdefault("baselines", {})[name] = pred
    report.update(
        checkpoint=str(checkpoint),
        corpus_path=str(data_cfg["corpus_path"]),
        split=split,
        baselines=baselines,
        by_length=scores_by_length([r["predicted"] for r in report["per_document"]], gold),
        errors=frequent_errors(report["per_document"]),
    )
    return report


def write_report(report: dict, output_dir: str | Path) -> Path:
    """``report.json``, ``report.md``, ``scores_by_length.png`` (+ ``learning_curve.png``).

    Each file replaces its old version atomically, and nothing else in ``output_dir`` is touched:
    ``output_dir`` may be the run directory itself, which holds the model.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(report["checkpoint"]).parent
    with tempfile.TemporaryDirectory(prefix=".report.", dir=output_dir) as tmp_name:
        tmp = Path(tmp_name)
        plots = [SCORES_BY_LENGTH_PNG]
        plot_scores_by_length(report, tmp / SCORES_BY_LENGTH_PNG)
        if plot_learning_curve(run_dir, tmp / LEARNING_CURVE_PNG):
            plots.append(LEARNING_CURVE_PNG)
        (tmp / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        (tmp / "report.md").write_text(markdown_report(report, plots), encoding="utf-8")
        for name in REPORT_FILES:
            if (tmp / name).exists():
                os.replace(tmp / name, output_dir / name)
            elif (output_dir / name).is_file():  # a learning curve left by an earlier report of another run
                (output_dir / name).unlink()
    return output_dir


def headline(report: dict) -> str:
    rows = [("model", report["phrase"]["micro"])] + [(k, v["phrase"]["micro"]) for k, v in report["baselines"].items()]
    lines = [f"{name:>22}: phrase micro P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}"
             for name, s in rows]
    lines.append(f"{'model (entity, strict)':>22}: P {report['entity']['precision']:.4f}  "
                 f"R {report['entity']['recall']:.4f}  F1 {report['entity']['f1']:.4f}")
    return "\n".join(lines)


def evaluate(cfg: DictConfig) -> dict:
    if not cfg.get("checkpoint"):
        raise ConfigError("checkpoint=DIR is required (a run's model/ directory)")
    corpus = OmegaConf.select(cfg, "data.corpus_path")
    report = build_report(cfg.checkpoint, cfg.split, corpus, cfg.device, int(cfg.batch_size))
    output_dir = cfg.get("output_dir") or Path(cfg.checkpoint).resolve().parent / f"evaluation_{cfg.split}"
    out = write_report(report, output_dir)
    print(f"{report['n_documents']} documents, split {report['split']} of {report['corpus_path']}")
    print(headline(report))
    print(f"report: {out / 'report.md'}")
    return report
