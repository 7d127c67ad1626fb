"""``evaluate(cfg)``: a checkpoint on a split (or a whole other corpus) -> report.json/.md + plots."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.checkpoint import CheckpointSettings
from keyphrase_tagger.data.prepare import prepare_corpus, write_atomically
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.evaluation.analysis import frequent_errors, scores_by_length
from keyphrase_tagger.evaluation.baselines import baseline_reports
from keyphrase_tagger.evaluation.report import markdown_report, plot_learning_curve, plot_scores_by_length
from keyphrase_tagger.evaluation.scoring import score_documents
from keyphrase_tagger.inference.extractor import KeyphraseExtractor
from keyphrase_tagger.lexicon import Lexicon

log = logging.getLogger(__name__)
SPLIT_CHOICES = ("train", "validation", "test", "all")


def build_report(checkpoint: str | Path, split: str = "test", corpus_path: str | None = None,
                 device: str = "auto", batch_size: int = 32) -> dict:
    """The report dictionary (see README, "Evaluation") for ``checkpoint`` on ``split``.

    The gold lists get the checkpoint's cleaning; ``split`` other than ``all`` rebuilds the
    training run's document split of its corpus (or of ``corpus_path`` when given).
    """
    if split not in SPLIT_CHOICES:
        raise ConfigError(f"split must be one of {SPLIT_CHOICES}, got {split!r}")
    settings = CheckpointSettings.load(checkpoint)
    train_data_cfg = dict(settings.data)
    data_cfg = dict(train_data_cfg, corpus_path=corpus_path or train_data_cfg["corpus_path"])
    prepared = prepare_corpus(data_cfg)
    labeled = prepared.split(split)
    documents = [d.document for d in labeled]
    # Calibration always uses the validation split of the training corpus, never the evaluated one.
    validation = (prepare_corpus(train_data_cfg) if corpus_path else prepared).split("validation")

    extractor = KeyphraseExtractor.from_pretrained(checkpoint, device=device, batch_size=batch_size)
    probs = extractor.predict_probs([d.text for d in documents])
    report = score_documents(documents, [d.tags for d in labeled], probs, settings.cleaning)
    baselines = baseline_reports(Lexicon.load(checkpoint), documents, [d.document for d in validation])
    for name, b in baselines.items():
        for row, predicted in zip(report["per_document"], b.pop("predicted")):
            row.setdefault("baselines", {})[name] = predicted
    report.update(
        checkpoint=str(checkpoint),
        corpus_path=str(data_cfg["corpus_path"]),
        split=split,
        baselines=baselines,
        by_length=scores_by_length(report["per_document"]),
        errors=frequent_errors(report["per_document"]),
    )
    return report


def write_report(report: dict, output_dir: str | Path) -> Path:
    """``report.json``, ``report.md``, ``scores_by_length.png`` (+ ``learning_curve.png``), atomically."""
    output_dir = Path(output_dir)

    def write(tmp: Path) -> None:
        (tmp / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        (tmp / "report.md").write_text(markdown_report(report), encoding="utf-8")
        plot_scores_by_length(report, tmp / "scores_by_length.png")
        plot_learning_curve(Path(report["checkpoint"]).parent / "logs" / "log_history.csv", tmp / "learning_curve.png")

    write_atomically(output_dir, write)
    return output_dir


def headline(report: dict) -> str:
    rows = [("model", report["phrase"]["micro"])] + [(k, v["phrase"]["micro"]) for k, v in report["baselines"].items()]
    return "\n".join(f"{name:>22}: phrase micro P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}"
                     for name, s in rows)


def evaluate(cfg: DictConfig) -> dict:
    if not cfg.get("checkpoint"):
        raise ConfigError("checkpoint=DIR is required (a run's model/ directory)")
    corpus = OmegaConf.select(cfg, "data.corpus_path")
    report = build_report(cfg.checkpoint, cfg.split, corpus, cfg.device, int(cfg.batch_size))
    output_dir = cfg.get("output_dir") or Path(cfg.checkpoint).resolve().parent / f"evaluation_{cfg.split}"
    out = write_report(report, output_dir)
    print(headline(report))
    print(f"report: {out / 'report.md'}")
    return report
