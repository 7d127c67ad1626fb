"""Reports for people: ``report.md`` and PNG plots from a ``report.json`` dictionary."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from keyphrase_tagger.evaluation.metrics import prf

SCORES_BY_LENGTH_PNG = "scores_by_length.png"
LEARNING_CURVE_PNG = "learning_curve.png"


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def _cell(text: object) -> str:
    """A Markdown table cell: a phrase may hold ``|``, which would split the row."""
    return str(text).replace("|", "\\|")


def _systems(report: dict) -> list[tuple[str, dict]]:
    return [("model", report["phrase"])] + [(name, b["phrase"]) for name, b in report["baselines"].items()]


def _calibration_note(report: dict) -> str:
    cal = report["baselines"].get("calibrated_gazetteer")
    if cal is None:
        return ""
    chosen = (
        f"chosen on the {cal['validation_documents']} documents of the training validation split "
        f"(phrase micro F1 there {_f(cal.get('validation_f1'))})"
        if cal.get("validation_documents")
        else "the default: no validation document to choose it on"
    )
    n_full = report["baselines"].get("gazetteer", {}).get("n_phrases")
    return (f"Gazetteer: the {n_full} phrases of the training lexicon, matched leftmost-longest. Calibrated "
            f"gazetteer: the {cal.get('n_phrases')} of them whose training rate P(listed | occurs) exceeds "
            f"{cal['threshold']}, a threshold {chosen}.")


def markdown_report(report: dict, plots: Sequence[str] = ()) -> str:
    """The report for people; ``plots`` are PNG file names written next to it."""
    lines = [
        f"# Evaluation: {report.get('checkpoint', '')}",
        "",
        f"Split `{report.get('split')}` of `{report.get('corpus_path')}`: {report['n_documents']} documents.",
        "",
        "## Summary",
        "",
        "Phrase level: per document, the distinct predicted strings against the cleaned gold list. Micro pools "
        "the counts (TP / predicted / gold) over documents; macro averages the per-document scores.",
        "",
        "| system | micro P | micro R | micro F1 | macro P | macro R | macro F1 | TP | predicted | gold |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in _systems(report):
        mi, ma = s["micro"], s["macro"]
        lines.append(f"| {name} | {_f(mi['precision'])} | {_f(mi['recall'])} | {_f(mi['f1'])} | "
                     f"{_f(ma['precision'])} | {_f(ma['recall'])} | {_f(ma['f1'])} | "
                     f"{mi.get('tp', '')} | {mi.get('n_pred', '')} | {mi.get('n_gold', '')} |")
    e = report["entity"]
    lines += [
        "",
        _calibration_note(report),
        "",
        f"Entity level (model; seqeval, strict IOB2 over the documents' character tags): "
        f"P {_f(e['precision'])}, R {_f(e['recall'])}, F1 {_f(e['f1'])}.",
        "",
    ]
    lines += [f"![{Path(p).stem.replace('_', ' ')}]({p})\n" for p in plots]
    lines += _length_table(report) + _error_table(report) + _document_table(report)
    return "\n".join(lines) + "\n"


def _length_table(report: dict) -> list[str]:
    baselines = list(report["baselines"])
    by_name = {name: {r["length"]: r for r in b.get("by_length", [])} for name, b in report["baselines"].items()}
    lines = ["## By phrase length (characters)", "",
             "| length | P | R | F1 | predicted | gold | " + " | ".join(f"{n} F1" for n in baselines) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(baselines)]
    for row in report["by_length"]:
        base = " | ".join(_f(by_name[n].get(row["length"], {}).get("f1")) for n in baselines)
        lines.append(f"| {row['length']} | {_f(row['precision'])} | {_f(row['recall'])} | {_f(row['f1'])} | "
                     f"{row['n_pred']} | {row['n_gold']} | {base} |")
    return lines


def _error_table(report: dict) -> list[str]:
    fps, fns = report["errors"]["false_positives"], report["errors"]["false_negatives"]
    lines = ["", "## Most frequent errors of the model", "",
             "Counted in documents: a phrase predicted (or missed) in three documents counts 3.", "",
             "| false positive | documents | false negative | documents |", "|---|---|---|---|"]
    for k in range(max(len(fps), len(fns))):
        fp = fps[k] if k < len(fps) else ("", "")
        fn = fns[k] if k < len(fns) else ("", "")
        lines.append(f"| {_cell(fp[0])} | {fp[1]} | {_cell(fn[0])} | {fn[1]} |")
    return lines


def _document_table(report: dict) -> list[str]:
    baselines = list(report["baselines"])
    lines = ["", "## Per document", "",
             "| doc_id | predicted | gold | TP | P | R | F1 | " + " | ".join(f"{n} F1" for n in baselines) + " |",
             "|---|---|---|---|---|---|---|" + "---|" * len(baselines)]
    for row in report["per_document"]:
        gold = set(row["gold"])
        base = []
        for name in baselines:
            pred = set(row.get("baselines", {}).get(name, ()))
            base.append(_f(prf(len(pred & gold), len(pred), len(gold))["f1"]) if "baselines" in row else "–")
        tp = len(set(row["predicted"]) & gold)
        lines.append(f"| {row['doc_id']} | {len(row['predicted'])} | {len(row['gold'])} | {tp} | "
                     f"{_f(row['precision'])} | {_f(row['recall'])} | {_f(row['f1'])} | {' | '.join(base)} |")
    return lines


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_scores_by_length(report: dict, path: Path) -> None:
    """Model P/R/F1 by phrase length, with the calibrated gazetteer's F1 for reference."""
    plt = _pyplot()
    rows = report["by_length"]
    fig, ax = plt.subplots(figsize=(7, 4))
    x = list(range(len(rows)))
    for key in ("precision", "recall", "f1"):
        ax.plot(x, [r[key] for r in rows], marker="o", label=f"model {key}")
    cal = {r["length"]: r["f1"] for r in report["baselines"].get("calibrated_gazetteer", {}).get("by_length", [])}
    if cal:
        ax.plot(x, [cal.get(r["length"], float("nan")) for r in rows], "k--", marker="x",
                label="calibrated gazetteer f1")
    ax.set_xticks(x, [r["length"] for r in rows])
    ax.set_xlabel("phrase length (characters)")
    ax.set_ylim(0, 1)
    ax.set_title("Phrase scores by length")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _checkpoint_step(state_file: Path) -> int:
    """``checkpoints/checkpoint-10/trainer_state.json`` -> 10 (so 10 sorts after 9)."""
    tail = state_file.parent.name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def read_log_history(run_dir: Path) -> list[dict]:
    """The Trainer's log history of a run: ``logs/log_history.csv``, else the newest ``trainer_state.json``.

    Values come back as floats; empty CSV cells are left out.
    """
    csv_path = run_dir / "logs" / "log_history.csv"
    if csv_path.is_file():
        with csv_path.open(encoding="utf-8") as f:
            return [{k: float(v) for k, v in row.items() if v not in (None, "")} for row in csv.DictReader(f)]
    states = sorted(run_dir.glob("checkpoints/checkpoint-*/trainer_state.json"), key=_checkpoint_step)
    if not states:
        return []
    history = json.loads(states[-1].read_text(encoding="utf-8")).get("log_history", [])
    return [{k: float(v) for k, v in row.items() if isinstance(v, (int, float))} for row in history]


def learning_curve_points(history: list[dict]) -> dict[str, list[tuple[float, float]]]:
    """``(step, value)`` series: training loss, validation loss and validation phrase F1.

    The Trainer logs the final evaluation twice at the last step (once in the loop, once from
    ``trainer.evaluate()``): one point per step is kept.
    """
    series: dict[str, dict[float, float]] = {"loss": {}, "eval_loss": {}, "eval_phrase_f1": {}}
    for row in history:
        step = row.get("step", row.get("epoch"))
        if step is None:
            continue
        for key, points in series.items():
            if key in row:
                points[step] = row[key]
    return {k: sorted(v.items()) for k, v in series.items()}


def _epochs_per_step(history: list[dict]) -> float | None:
    """The ratio epoch / step of the latest logged row (the Trainer logs both), for an epoch axis."""
    rows = [r for r in history if r.get("step") and r.get("epoch")]
    if not rows:
        return None
    last = max(rows, key=lambda r: r["step"])
    return last["epoch"] / last["step"]


def plot_learning_curve(run_dir: Path, path: Path, decision_f1: float | None = None,
                        best_step: float | None = None) -> bool:
    """Losses and validation phrase F1 by step (epochs on the top axis) from the run's log history;
    ``False`` if there is none.

    ``decision_f1``: the validation phrase F1 of the decision that ships (tuned on that same split
    after training), drawn at the last step; ``best_step``: the step of the model kept.
    """
    history = read_log_history(Path(run_dir))
    points = learning_curve_points(history)
    if not any(points.values()):
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in (("loss", "training loss"), ("eval_loss", "validation loss")):
        if points[key]:
            ax.plot(*zip(*points[key]), marker="." if key == "loss" else "s", label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(loc="upper left", fontsize="small")
    ratio = _epochs_per_step(history)
    if ratio:
        ax.secondary_xaxis("top", functions=(lambda s: s * ratio, lambda e: e / ratio)).set_xlabel("epoch")
    if points["eval_phrase_f1"] or decision_f1 is not None:
        _plot_f1(ax.twinx(), points["eval_phrase_f1"], decision_f1, best_step,
                 max(step for series in points.values() for step, _ in series))
    ax.set_title("Learning curve")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _plot_f1(ax, f1_points: list[tuple[float, float]], decision_f1: float | None, best_step: float | None,
             last_step: float) -> None:
    if f1_points:
        ax.plot(*zip(*f1_points), color="tab:red", marker="o", label="validation phrase micro F1 (argmax)")
    if best_step is not None:
        ax.axvline(best_step, color="tab:gray", linestyle=":", label="best epoch (model kept)")
    if decision_f1 is not None:
        ax.plot([last_step], [decision_f1], color="tab:green", marker="*", markersize=14, linestyle="none",
                label="shipped decision (tuned on validation)")
    ax.set_ylabel("phrase micro F1")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right", fontsize="small")
