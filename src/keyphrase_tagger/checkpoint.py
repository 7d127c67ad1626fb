"""What a checkpoint directory holds besides the HF model: ``keyphrase_tagger.json``.

A checkpoint is an ordinary ``save_pretrained`` directory (config with ``id2label``,
``model.safetensors``, tokenizer files) plus the settings inference needs to see text exactly as
training did (window, cleaning, the tagger's head), the training data config (so evaluation can
rebuild the same splits), ``lexicon.json`` (with ``word_stats.json`` where the phrase rescorer
reads words) and, for ``head: crf``, ``crf.safetensors`` (the CRF over the model's logits).
:func:`validate_checkpoint` checks that these parts are there and fit together before anything
heavy is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.errors import CheckpointError, ConfigError
from keyphrase_tagger.records import ID2LABEL
from keyphrase_tagger.tagger.windows import check_window

SETTINGS_FILE = "keyphrase_tagger.json"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
TOKENIZER_FILE = "tokenizer.json"
CRF_WEIGHTS_FILE = "crf.safetensors"  # tagger.crf.WEIGHTS_FILE, not imported here: it brings torch
HEADS = ("softmax", "crf")  # how the model's logits become probabilities (tagger.inputs.window_probs)
# What transformers builds a tokenizer from when tokenizer.json is absent.
VOCABULARY_FILES = ("vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model")


@dataclass(frozen=True)
class CheckpointSettings:
    """``keyphrase_tagger.json``: how inference windows and cleans text, and what decides phrases."""

    max_chars: int
    stride: int
    cleaning: CleaningConfig
    data: dict = field(default_factory=dict)
    lexicon_features: dict = field(default_factory=dict)  # LexiconFeatureConfig.to_dict()
    decision: dict = field(default_factory=dict)  # Decision.to_dict(), fitted after training; {}: argmax
    head: str = "softmax"  # one of HEADS; "crf": crf.safetensors holds the CRF

    def save(self, directory: str | Path) -> None:
        """Write ``keyphrase_tagger.json`` into ``directory``."""
        payload = {
            "window": {"max_chars": self.max_chars, "stride": self.stride},
            "cleaning": self.cleaning.to_dict(),
            "data": self.data,
            "lexicon_features": self.lexicon_features,
            "decision": self.decision,
            "head": self.head,
        }
        (Path(directory) / SETTINGS_FILE).write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> "CheckpointSettings":
        """The settings file alone; :func:`validate_checkpoint` checks the rest of the directory."""
        directory = Path(directory)
        check_checkpoint_dir(directory)
        path = directory / SETTINGS_FILE
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            settings = cls(
                max_chars=int(payload["window"]["max_chars"]),
                stride=int(payload["window"]["stride"]),
                cleaning=CleaningConfig.from_dict(payload.get("cleaning")),
                data=payload.get("data", {}),
                lexicon_features=payload.get("lexicon_features", {}),
                decision=payload["decision"],
                head=payload["head"],
            )
            check_window(settings.max_chars, settings.stride)
            if settings.head not in HEADS:
                raise ConfigError(f"head={settings.head!r}, expected one of {', '.join(HEADS)}")
        except ConfigError as err:
            raise CheckpointError(f"{path}: {err}") from None
        except KeyError as err:
            raise CheckpointError(f"{path}: unreadable settings (no {err})") from None
        except (ValueError, TypeError, AttributeError) as err:
            raise CheckpointError(f"{path}: unreadable settings ({_one_line(err)})") from None
        return settings


def check_checkpoint_dir(directory: str | Path) -> Path:
    """``directory`` as a path, if it holds ``config.json`` and ``keyphrase_tagger.json``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: checkpoint directory not found")
    for name in (CONFIG_FILE, SETTINGS_FILE):
        if not (directory / name).is_file():
            hint = " (pass the run's model/ directory)" if (directory / "model" / name).is_file() else ""
            raise CheckpointError(f"{directory}: not a keyphrase-tagger checkpoint, {name} is missing{hint}")
    return directory


def validate_checkpoint(directory: str | Path) -> CheckpointSettings:
    """The checkpoint's settings, once every part the checkpoint uses is present and consistent.

    Reads only JSON and file headers (no torch, no weights), so a damaged checkpoint fails in
    milliseconds with a :class:`CheckpointError` that names the file, instead of predicting
    garbage or failing halfway through a run: the weights (safetensors, whole or sharded), the CRF
    of a ``head: crf`` checkpoint, a tokenizer of the model's vocabulary size, a window within the
    model's positions, decision settings that parse, and the lexicon and word statistics where the
    settings read them.
    """
    directory = Path(directory)
    settings = CheckpointSettings.load(directory)
    model = _read_json(directory / CONFIG_FILE, "model config")
    if not isinstance(model, dict):
        raise CheckpointError(f"{directory / CONFIG_FILE}: unreadable model config (not a JSON object)")
    _check_weights(directory)
    if settings.head == "crf":
        _check_crf(directory)
    _check_tokenizer(directory, model)
    limit = model.get("max_position_embeddings")
    if isinstance(limit, int) and settings.max_chars + 2 > limit:
        raise CheckpointError(f"{directory / SETTINGS_FILE}: window.max_chars={settings.max_chars} + 2 special "
                              f"tokens exceeds the model's {limit} positions ({CONFIG_FILE} max_position_embeddings)")
    labels = model.get("id2label")
    if isinstance(labels, dict) and len(labels) != len(ID2LABEL):
        raise CheckpointError(f"{directory / CONFIG_FILE}: the model has {len(labels)} labels, "
                              f"a keyphrase tagger {len(ID2LABEL)} ({', '.join(ID2LABEL.values())})")
    _check_decisions(directory, settings, model)
    return settings


def check_tokenizer_size(directory: str | Path, n_tokens: int, vocab_size: object) -> None:
    """A tokenizer of another size than the model's embeddings maps characters to the wrong rows
    (a lost ``tokenizer.json`` leaves 5 special tokens: every character becomes ``[UNK]``)."""
    if isinstance(vocab_size, int) and n_tokens != vocab_size:
        raise CheckpointError(f"{tokenizer_file(directory)}: the tokenizer has {n_tokens} tokens, the model "
                              f"{vocab_size} ({CONFIG_FILE} vocab_size): they do not belong together")


def tokenizer_file(directory: str | Path) -> Path:
    """The file the checkpoint's tokenizer is built from: ``tokenizer.json``, else a vocabulary file."""
    directory = Path(directory)
    found = [directory / name for name in (TOKENIZER_FILE, *VOCABULARY_FILES) if (directory / name).is_file()]
    return found[0] if found else directory / TOKENIZER_FILE


def _one_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing ({what})") from None
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable {what} ({_one_line(err)})") from None


def _check_weights(directory: Path) -> None:
    """The weights in safetensors (never pickle), whole or as the shards the index lists."""
    from safetensors import SafetensorError, safe_open

    index = directory / WEIGHTS_INDEX_FILE
    if (directory / WEIGHTS_FILE).is_file():
        names = [WEIGHTS_FILE]
    elif index.is_file():
        weight_map = _read_json(index, "index of the weight shards")
        weight_map = weight_map.get("weight_map") if isinstance(weight_map, dict) else None
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise CheckpointError(f"{index}: unreadable index of the weight shards (no weight_map of file names)")
        names = sorted(set(weight_map.values()))
    else:
        raise CheckpointError(f"{directory / WEIGHTS_FILE}: missing (the model weights, read from safetensors only)")
    for name in names:
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (a weight shard {WEIGHTS_INDEX_FILE} lists)")
        try:  # the header only: a truncated or foreign file fails here, in milliseconds
            with safe_open(str(path), framework="np"):
                pass
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{path}: unreadable model weights ({_one_line(err)})") from None


def _check_crf(directory: Path) -> None:
    """The CRF of a ``head: crf`` checkpoint: ``crf.safetensors`` with its three score tensors."""
    from safetensors import SafetensorError, safe_open

    path = directory / CRF_WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (the CRF over the model's logits; {SETTINGS_FILE} says head crf)")
    try:  # the header only
        with safe_open(str(path), framework="np") as weights:
            names = weights.keys()
            shapes = {name: tuple(weights.get_slice(name).get_shape()) for name in names}
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path}: unreadable CRF weights ({_one_line(err)})") from None
    n = len(ID2LABEL)
    expected = {"start_transitions": (n,), "end_transitions": (n,), "transitions": (n, n)}
    if shapes != expected:
        raise CheckpointError(f"{path}: not the CRF of a {n}-tag tagger (tensors {shapes}, expected {expected})")


def _check_tokenizer(directory: Path, model: dict) -> None:
    path = directory / TOKENIZER_FILE
    if path.is_file():
        from tokenizers import Tokenizer

        try:
            n_tokens = Tokenizer.from_file(str(path)).get_vocab_size(with_added_tokens=True)
        except Exception as err:  # the tokenizers library raises plain Exception for a damaged file
            raise CheckpointError(f"{path}: unreadable tokenizer ({_one_line(err)})") from None
        check_tokenizer_size(directory, n_tokens, model.get("vocab_size"))
    elif not any((directory / name).is_file() for name in VOCABULARY_FILES):
        # transformers would build a tokenizer of the 5 special tokens and predict from [UNK] only.
        raise CheckpointError(f"{path}: missing (the tokenizer; nor is there a {' / '.join(VOCABULARY_FILES)} "
                              "to build one from)")


def _check_decisions(directory: Path, settings: CheckpointSettings, model: dict) -> None:
    """Parse the lexicon-feature and decision settings once, as the extractor will, and check that
    the files they read are there."""
    from keyphrase_tagger.decision.candidates import needs_word_stats
    from keyphrase_tagger.decision.kinds import load_decision
    from keyphrase_tagger.decision.rescorer import RescorerDecision
    from keyphrase_tagger.lexicon.lexicon import LEXICON_FILE
    from keyphrase_tagger.lexicon.word_stats import WordStats
    from keyphrase_tagger.tagger.lexicon_inputs import LexiconFeatureConfig

    path = directory / SETTINGS_FILE
    try:
        features = LexiconFeatureConfig.from_dict(settings.lexicon_features)
    except (ValueError, TypeError, AttributeError, KeyError, ConfigError) as err:
        raise CheckpointError(f"{path}: unreadable lexicon_features ({_one_line(err)})") from None
    if not isinstance(settings.decision, dict):
        raise CheckpointError(f"{path}: decision must be an object, not {type(settings.decision).__name__}")
    try:
        decision = load_decision(settings.decision)
    except CheckpointError as err:
        raise CheckpointError(f"{path}: {_one_line(err)}") from None
    groups = ()
    if isinstance(decision, RescorerDecision):  # its weights were checked against its features as it loaded
        groups = decision.rescorer.groups
    types = model.get("type_vocab_size", 2)
    if features.enabled and isinstance(types, int) and features.n_types > types:
        raise CheckpointError(f"{directory / CONFIG_FILE}: type_vocab_size={types}, but the lexicon features of "
                              f"{SETTINGS_FILE} need {features.n_types} token types")
    if (features.enabled or decision.uses_lexicon) and not (directory / LEXICON_FILE).is_file():
        raise CheckpointError(f"{directory / LEXICON_FILE}: missing (the training lexicon the lexicon features "
                              "or the decision read)")
    if needs_word_stats(groups):
        WordStats.load(directory)  # missing or malformed: a CheckpointError naming word_stats.json
