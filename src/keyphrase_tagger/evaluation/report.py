"""Reports for people: ``report.md`` and PNG plots from a ``report.json`` dictionary."""

from __future__ import annotations

import csv
from pathlib import Path


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def markdown_report(report: dict) -> str:
    m = report["phrase"]
    lines = [
        f"# Evaluation: {report.get('checkpoint', '')}",
        "",
        f"Split `{report.get('split')}` of `{report.get('corpus_path')}`: {report['n_documents']} documents.",
        "",
        "## Summary (phrase level: distinct predicted strings vs cleaned gold list, per document)",
        "",
        "| system | micro P | micro R | micro F1 | macro P | macro R | macro F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    systems = [("model", m)] + [(name, b["phrase"]) for name, b in report["baselines"].items()]
    for name, s in systems:
        mi, ma = s["micro"], s["macro"]
        lines.append(f"| {name} | {_f(mi['precision'])} | {_f(mi['recall'])} | {_f(mi['f1'])} | "
                     f"{_f(ma['precision'])} | {_f(ma['recall'])} | {_f(ma['f1'])} |")
    cal = report["baselines"].get("calibrated_gazetteer", {})
    e = report["entity"]
    lines += [
        "",
        f"Calibrated gazetteer: lexicon phrases with training P(listed | occurs) > {cal.get('threshold')} "
        f"(chosen on the validation split, F1 there {_f(cal.get('validation_f1'))}).",
        "",
        f"Entity level (seqeval, strict IOB2, character tags): P {_f(e['precision'])}, R {_f(e['recall'])}, "
        f"F1 {_f(e['f1'])}.",
        "",
        "## By phrase length",
        "",
        "| length | P | R | F1 | predicted | gold |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["by_length"]:
        lines.append(f"| {row['length']} | {_f(row['precision'])} | {_f(row['recall'])} | {_f(row['f1'])} | "
                     f"{row['n_pred']} | {row['n_gold']} |")
    errors = report["errors"]
    lines += ["", "## Most frequent errors (documents)", "", "| false positive | docs | false negative | docs |",
              "|---|---|---|---|"]
    fps, fns = errors["false_positives"], errors["false_negatives"]
    for k in range(max(len(fps), len(fns))):
        fp = fps[k] if k < len(fps) else ("", "")
        fn = fns[k] if k < len(fns) else ("", "")
        lines.append(f"| {fp[0]} | {fp[1]} | {fn[0]} | {fn[1]} |")
    lines += ["", "## Per document", "", "| doc_id | predicted | gold | P | R | F1 |", "|---|---|---|---|---|---|"]
    for row in report["per_document"]:
        lines.append(f"| {row['doc_id']} | {len(row['predicted'])} | {len(row['gold'])} | {_f(row['precision'])} | "
                     f"{_f(row['recall'])} | {_f(row['f1'])} |")
    return "\n".join(lines) + "\n"


def plot_scores_by_length(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["by_length"]
    fig, ax = plt.subplots(figsize=(7, 4))
    x = range(len(rows))
    for key in ("precision", "recall", "f1"):
        ax.plot(x, [r[key] for r in rows], marker="o", label=key)
    ax.set_xticks(list(x), [r["length"] for r in rows])
    ax.set_xlabel("phrase length (characters)")
    ax.set_ylim(0, 1)
    ax.set_title("Model scores by phrase length")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_learning_curve(log_csv: Path, path: Path) -> bool:
    """Training loss and validation phrase F1 by epoch, from the run's ``logs/log_history.csv``."""
    if not log_csv.is_file():
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with log_csv.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    loss = [(float(r["epoch"]), float(r["loss"])) for r in rows if r.get("loss")]
    f1 = [(float(r["epoch"]), float(r["eval_phrase_f1"])) for r in rows if r.get("eval_phrase_f1")]
    if not loss and not f1:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    if loss:
        ax.plot(*zip(*loss), label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if f1:
        ax2 = ax.twinx()
        ax2.plot(*zip(*f1), color="tab:red", marker="o", label="validation phrase F1")
        ax2.set_ylabel("phrase micro F1")
        ax2.set_ylim(0, 1)
        ax2.legend(loc="upper right")
    ax.legend(loc="upper left")
    ax.set_title("Learning curve")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
