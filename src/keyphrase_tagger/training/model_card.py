"""``model/README.md``: the model card of a checkpoint, in the Hugging Face convention (a YAML
front-matter block, then Markdown), so that the directory explains itself wherever it is copied
or uploaded.

:func:`model_card` builds it from plain values (what the run knows once its metrics are final);
:func:`keyphrase_tagger.training.train.save_run` writes it. The card is documentation only: no
command reads it, and checkpoint validation neither needs nor checks it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from omegaconf import OmegaConf

CARD_FILE = "README.md"
DEFAULT_HEAD = "softmax"
TAGS = ("keyphrase-extraction", "token-classification", "chinese", "bert")
SPLITS = ("train", "validation", "test")
# The path the loading examples name; a test runs them with a real checkpoint in its place.
MODEL_DIR_PLACEHOLDER = "path/to/model"
EXAMPLE_TEXT = "关于新时代服务业高质量发展的指导意见"
# (metrics.json key, what it is) in the order of the card's table.
VALIDATION_ROWS = (
    ("eval_tuned_phrase_f1", "phrase micro F1 of the decision that ships (tuned on these documents: optimistic)"),
    ("eval_phrase_f1", "phrase micro F1 of argmax decoding"),
    ("eval_entity_f1", "entity F1 (seqeval, strict IOB2) of argmax decoding"),
    ("best_epoch", "best epoch"),
    ("best_model_selected_by", "the score that chose the best epoch"),
)


def _hub_id(name_or_path: str) -> bool:
    """Whether a pretrained model's name reads as a hub id (``bert-base-chinese``, ``hfl/x``), not a path."""
    return name_or_path.count("/") <= 1 and not name_or_path.startswith(("/", ".", "~"))


def front_matter(model: Mapping) -> str:
    """The YAML block between ``---`` lines that the Hugging Face hub reads."""
    meta: dict = {"language": "zh", "library_name": "transformers", "pipeline_tag": "token-classification",
                  "tags": list(TAGS)}
    base = model.get("name_or_path")
    if not model.get("from_scratch") and base and _hub_id(str(base)):
        meta["base_model"] = str(base)
    return "---\n" + OmegaConf.to_yaml(meta) + "---\n"


def _model_section(model: Mapping, head: str, tagger_from: str | None) -> list[str]:
    if model.get("from_scratch"):
        origin = "a BERT trained from scratch, with a character vocabulary built from the training split"
    else:
        origin = f"fine-tuned from `{model.get('name_or_path')}`"
    kept = ([f"- tagger: kept from `{tagger_from}` as it was trained there (`tagger_from`); only the decision "
             "below was fitted in this run"] if tagger_from is not None else [])
    return ["## Model", "",
            f"- preset: `model={model.get('name', 'unknown')}`: {origin}",
            f"- head: {head} over the character tags `O`, `B-KP`, `I-KP` (`BertForTokenClassification`, "
            "one token per character)", *kept, ""]


def _cell(value) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _data_section(data_stats: Mapping[str, Mapping], corpus: str | None, max_documents: int | None) -> list[str]:
    lines = ["## Training data", ""]
    if corpus:
        lines += [f"Corpus `{corpus}`, split by document (phrases: the cleaned keyphrase lists; tagged spans: "
                  "their occurrences labeled in the text).", ""]
    lines += ["| split | documents | characters | phrases | tagged spans |", "|---|---|---|---|---|"]
    for split in [s for s in SPLITS if s in data_stats] + [s for s in data_stats if s not in SPLITS and s != "all"]:
        stats = data_stats[split]
        lines.append(f"| {split} | " + " | ".join(_cell(stats.get(k)) for k in
                                                  ("documents", "characters", "kept_phrases", "tagged_spans")) + " |")
    if max_documents:
        lines += ["", f"`data.max_documents={max_documents}`: training read only the first {max_documents} "
                  f"training and {max(1, max_documents // 2)} validation documents of these."]
    return lines + [""]


def _features_section(lexicon_features: Mapping) -> list[str]:
    if not lexicon_features.get("enabled"):
        return ["## Lexicon features", "", "Off (`features=none`): the model reads the characters alone.", ""]
    edges = ", ".join(f"{float(x):g}" for x in lexicon_features.get("rate_edges", ()))
    recurrence = (", and whether the phrase recurs in the document" if lexicon_features.get("recurrence") else "")
    words = (" They also give the character's place in its jieba word (first, inner, last or alone; "
             "`features.word_boundaries`)." if lexicon_features.get("word_boundaries") else "")
    return ["## Lexicon features", "",
            "On (`features=lexicon`): each character's `token_type_ids` say whether a phrase of the training "
            "lexicon (`lexicon.json`) covers it (first or inner character), how often that phrase was listed "
            f"where it occurred in training (P(listed | occurs) in buckets at {edges}){recurrence}.{words}", ""]


def _decision_section(kind: str, line: str) -> list[str]:
    fitted = ("Nothing is fitted: each character takes its most probable tag." if kind == "argmax" else
              "Fitted after training, chosen on the validation split; its settings and weights are in "
              "`keyphrase_tagger.json` under `decision`.")
    return ["## Decision", "", f"`{kind}`: {line}. {fitted}", ""]


def _scores_section(metrics: Mapping) -> list[str]:
    lines = ["## Validation scores", ""]
    if not any(key in metrics for key, _ in VALIDATION_ROWS):
        lines += ["None: this run had no validation documents.", ""]
    else:
        lines += ["| score | value |", "|---|---|"]
        lines += [f"| {what} (`{key}`) | {_cell(metrics.get(key))} |" for key, what in VALIDATION_ROWS]
        lines.append("")
    return lines + [
        "## Test scores", "",
        "Not known when the model is saved: training never reads the test split. This command scores it "
        f"(`{MODEL_DIR_PLACEHOLDER}`: this directory; `report.json`, `report.md`) beside the lexicon baselines:", "",
        "```bash", f"kpt-evaluate checkpoint={MODEL_DIR_PLACEHOLDER} split=test "
        "output_dir=path/to/run/evaluation_test", "```", ""]


def _loading_section(max_chars: int | None, lexicon_features: bool) -> list[str]:
    window = f" of {max_chars} characters" if max_chars else ""
    plain = ("the tagger's per-character tags alone, without the lexicon features (all `token_type_ids` 0) "
             "and without the decision, so its phrases differ from the extractor's" if lexicon_features else
             "the tagger's per-character tags alone, without the decision")
    return [
        "## How to use", "",
        f"`{MODEL_DIR_PLACEHOLDER}` stands for this directory. With keyphrase-tagger, texts of any length are "
        f"cut into windows{window}, and the lexicon features and the decision apply as in training:", "",
        "```python", "from keyphrase_tagger import KeyphraseExtractor", "",
        f'extractor = KeyphraseExtractor.from_pretrained("{MODEL_DIR_PLACEHOLDER}", device="auto")',
        f'for p in extractor.extract("{EXAMPLE_TEXT}"):',
        "    print(p.text, p.start, p.end, round(p.score, 3))", "```", "",
        f"With plain `transformers`: {plain}. Pass the text as a list of characters, without whitespace, "
        f"to keep one token per character{f', and at most {max_chars} of them' if max_chars else ''}:", "",
        "```python", "import torch", "from transformers import AutoModelForTokenClassification, AutoTokenizer", "",
        f'tokenizer = AutoTokenizer.from_pretrained("{MODEL_DIR_PLACEHOLDER}")',
        f'model = AutoModelForTokenClassification.from_pretrained("{MODEL_DIR_PLACEHOLDER}").eval()',
        f'text = "{EXAMPLE_TEXT}"',
        'inputs = tokenizer(list(text), is_split_into_words=True, return_tensors="pt")',
        "with torch.no_grad():",
        "    ids = model(**inputs).logits.argmax(-1)[0, 1:-1]  # without [CLS] and [SEP]",
        "tags = [model.config.id2label[int(i)] for i in ids]  # one of O, B-KP, I-KP per character",
        "```", ""]


def model_card(*, model: Mapping, data_stats: Mapping[str, Mapping], lexicon_features: Mapping,
               decision_kind: str, decision_line: str, metrics: Mapping, head: str = DEFAULT_HEAD,
               corpus: str | None = None, max_documents: int | None = None, max_chars: int | None = None,
               tagger_from: str | None = None) -> str:
    """The card's text.

    ``model``: the ``model`` config group (``name``, ``from_scratch``, ``name_or_path``);
    ``data_stats``: per split, the prepared corpus's counts (``documents``, ``characters``,
    ``kept_phrases``, ``tagged_spans``); ``lexicon_features``: ``LexiconFeatureConfig.to_dict()``;
    ``decision_kind`` and ``decision_line``: the fitted decision's ``kind`` and ``describe()``;
    ``metrics``: ``metrics.json`` (the validation scores and ``best_epoch`` it has are shown);
    ``tagger_from``: the checkpoint whose tagger this run kept, if any (``model`` is then the config
    that tagger was trained with).
    """
    title = f"# Chinese keyphrase tagger (`model={model.get('name', 'unknown')}`, decision `{decision_kind}`)"
    intro = ("Returns the keyphrases of a Chinese text with exact character offsets: a token classifier tags "
             "each character `B-KP`, `I-KP` or `O`, and a decision fitted after training turns the tag "
             "probabilities into phrases. Trained with keyphrase-tagger (`kpt-train`).")
    lines: Sequence[str] = [
        title, "", intro, "",
        *_model_section(model, head, tagger_from),
        *_data_section(data_stats, corpus, max_documents),
        *_features_section(lexicon_features),
        *_decision_section(decision_kind, decision_line),
        *_scores_section(metrics),
        *_loading_section(max_chars, bool(lexicon_features.get("enabled"))),
    ]
    return front_matter(model) + "\n" + "\n".join(lines).rstrip("\n") + "\n"


def write_model_card(model_dir: Path, text: str) -> Path:
    """``model_dir/README.md``; returns its path."""
    path = Path(model_dir) / CARD_FILE
    path.write_text(text, encoding="utf-8")
    return path
