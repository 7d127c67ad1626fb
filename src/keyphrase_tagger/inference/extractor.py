"""``KeyphraseExtractor``: a saved checkpoint -> phrases with exact offsets and scores."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from numbers import Integral
from pathlib import Path

import numpy as np
import torch

from keyphrase_tagger.checkpoint import (
    CheckpointSettings,
    check_tokenizer_size,
    validate_checkpoint,
)
from keyphrase_tagger.decision.base import Decision
from keyphrase_tagger.decision.decoder import Decided, decode_phrases
from keyphrase_tagger.decision.kinds import load_decision
from keyphrase_tagger.decision.pieces import DECIDE_CHUNK_CHARS, decide_in_pieces
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.inference import overlap
from keyphrase_tagger.inference.precision import apply_precision, check_precision
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.records import Phrase
from keyphrase_tagger.tagger.crf import LinearChainCRF, load_crf
from keyphrase_tagger.tagger.encoding import CharEncoder
from keyphrase_tagger.tagger.inputs import PREDICT_BATCH_SIZE, texts_probs
from keyphrase_tagger.tagger.lexicon_inputs import (
    LexiconFeatureConfig,
    LexiconFeaturizer,
)


def resolve_device(device: str | int | torch.device = "auto") -> torch.device:
    """``auto`` (CUDA if available, else CPU) or a device this machine has (an int is a CUDA index);
    else :class:`ConfigError`."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda_index = isinstance(device, int) and not isinstance(device, bool)
    try:
        resolved = torch.device(f"cuda:{device}" if cuda_index else device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device={device}: not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if resolved.type == "cpu":
        return resolved
    backend = torch.backends.mps if resolved.type == "mps" else getattr(torch, resolved.type, None)
    if not (hasattr(backend, "is_available") and backend.is_available()):
        raise ConfigError(f"device={device}: no {resolved.type} device on this machine; use device=cpu or auto")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ConfigError(f"device={device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return resolved


def positive_int(name: str, value: object, meaning: str, optional: bool = False) -> int | None:
    """``value`` of the setting ``name`` as an int >= 1 (or ``None``, where ``optional``); else a
    one-line :class:`ConfigError` naming the setting, its value and what it counts (``meaning``)."""
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ConfigError(f"{name}={value!r}: must be {'null or ' if optional else ''}an integer >= 1 ({meaning})")
    return int(value)


def checked_settings(batch_size: object, chunk_chars: object, streams: object) -> tuple[int, int | None, int | None]:
    """``batch_size``, ``chunk_chars`` and ``streams`` as :meth:`KeyphraseExtractor.from_pretrained`
    takes them, checked by :func:`positive_int`."""
    return (positive_int("batch_size", batch_size, "windows per forward pass"),
            positive_int("chunk_chars", chunk_chars, "characters per decided piece", optional=True),
            positive_int("streams", streams, "forward passes run side by side", optional=True))


def checked_texts(texts: Iterable[str]) -> list[str]:
    """``texts`` as a list, each a string the tokenizer and the lexicon matcher can read."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"expected a sequence of texts, got one {type(texts).__name__}: pass [text], or use extract()")
    texts = list(texts)
    for k, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{k}] is {type(text).__name__}, expected str")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as err:  # e.g. a "\ud800" JSON escape: no Unicode character
                raise ValueError(f"texts[{k}]: character {err.start} is a lone surrogate "
                                 f"U+{ord(text[err.start]):04X}, which is no Unicode character") from None
    return texts


class KeyphraseExtractor:
    """A checkpoint's model, tokenizer and decision settings: texts in, phrases with offsets out.

    The tagger gives each character ``O``/``B-KP``/``I-KP`` probabilities (a text of any length is
    read in overlapping windows of the checkpoint's ``max_chars``; with a CRF head, its marginals);
    the decision saved with the checkpoint (:attr:`decision`: argmax, O prior and gazetteer fusion,
    or the phrase rescorer, fitted at training time) turns them into spans, and the one decoder
    (:func:`keyphrase_tagger.decision.decoder.decode_phrases`) into
    :class:`~keyphrase_tagger.records.Phrase` objects, with the cleaning the training lists had.
    ``kpt-evaluate`` scores exactly what these methods return.

    Example::

        from keyphrase_tagger import KeyphraseExtractor

        extractor = KeyphraseExtractor.from_pretrained("outputs/default/latest/model", device="cpu")
        text = "完善养老服务体系，发展数字经济和金融科技"
        for phrase in extractor.extract(text, unique=True, top_k=5):
            assert text[phrase.start : phrase.end] == phrase.text
            print(phrase.text, phrase.start, phrase.end, round(phrase.score, 3))
        per_text = extractor.extract_many([text, "推动服务业高质量发展"], min_score=0.5)

    Build one with :meth:`from_pretrained`; the constructor takes parts already loaded.
    """

    def __init__(self, model, tokenizer, settings: CheckpointSettings, device="auto",
                 batch_size: int = PREDICT_BATCH_SIZE, featurizer: LexiconFeaturizer | None = None,
                 decision: Decision | None = None, crf: LinearChainCRF | None = None,
                 chunk_chars: int | None = DECIDE_CHUNK_CHARS, streams: int | None = None) -> None:
        """Wrap loaded parts: a ``transformers`` token-classification ``model`` and its ``tokenizer``,
        the checkpoint's ``settings``, the ``featurizer`` of its lexicon input features (``None``:
        the model reads none), its ``decision`` (``None``: the one ``settings`` stores, which
        must not need the training lexicon) and, where ``settings.head`` is ``crf``, its ``crf``
        (:func:`~keyphrase_tagger.tagger.crf.load_crf`). ``device``, ``batch_size`` and
        ``chunk_chars`` and ``streams`` as in :meth:`from_pretrained`."""
        if (crf is not None) != (settings.head == "crf"):
            raise ConfigError(f"settings.head is {settings.head!r} and a CRF was {'' if crf is not None else 'not '}"
                              "given: a 'crf' head needs the checkpoint's CRF (tagger.crf.load_crf), a softmax none")
        self.device = resolve_device(device)
        #: Windows per forward pass; texts longer than ``chunk_chars`` are decided piece by piece
        #: (``decision/pieces.py``; ``None``: whole); ``streams`` forward passes run side by side
        #: (``tagger/streams.py``; ``None``: the device's default).
        self.batch_size, self.chunk_chars, self.streams = checked_settings(batch_size, chunk_chars, streams)
        self.model = model.to(self.device).eval()
        #: The CRF over the model's logits (``head: crf``), else ``None``: a softmax per character.
        self.crf = crf.float().to(self.device).eval() if crf is not None else None
        self.tokenizer = tokenizer
        self.settings = settings
        self.encoder = CharEncoder(tokenizer)
        self.featurizer = featurizer
        #: The checkpoint's decision, built once (``decision/``).
        self.decision = decision if decision is not None else load_decision(settings.decision)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "auto", batch_size: int = PREDICT_BATCH_SIZE,
                        precision: str = "fp32", chunk_chars: int | None = DECIDE_CHUNK_CHARS,
                        streams: int | None = None) -> "KeyphraseExtractor":
        """Load a checkpoint directory (a run's ``model/``, e.g. ``outputs/default/latest/model``).

        Args:
            path: the checkpoint directory, as ``kpt-train`` writes it (a local path; no hub names).
            device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``,
                ``"mps"`` or a CUDA index.
            batch_size: windows per forward pass, an integer >= 1; memory grows with it, not with
                the length of a text.
            precision: the tagger's forward pass: ``"fp32"`` (as trained), ``"bf16"`` (bfloat16
                weights; CPUs with AVX512_BF16 or AMX, or CUDA) or ``"int8"`` (int8 Linear layers,
                CPU only); see :mod:`~keyphrase_tagger.inference.precision`.
            chunk_chars: an integer >= 1 (default :data:`~keyphrase_tagger.decision.pieces.DECIDE_CHUNK_CHARS`,
                100,000) or ``None`` (every text decided whole): a longer text is
                decided in pieces of at most this many characters, so the decision's memory is
                bounded by a piece, its features then being those of the piece
                (:mod:`~keyphrase_tagger.decision.pieces`); ``kpt-predict`` and ``kpt-evaluate``
                take it from their configs.
            streams: an integer >= 1 or ``None`` (default: 2 on a CPU, 1 on other devices):
                batches the model reads side by side, each stream on its share of torch's threads
                (:mod:`~keyphrase_tagger.tagger.streams`); never more streams than torch has
                threads. Streams change which thread computes a batch, not what it computes,
                except as torch's thread count may order a float sum differently.

        Returns:
            The extractor, its model in evaluation mode on ``device``.

        Raises:
            ConfigError: ``device`` is not a device of this machine, ``batch_size`` is not an
                integer >= 1, ``chunk_chars`` or ``streams`` is neither ``None`` nor one, or ``precision`` is
                unknown or not available on ``device``.
            CheckpointError: a part of the checkpoint is missing, damaged or does not fit the rest
                (:func:`~keyphrase_tagger.checkpoint.validate_checkpoint`); the message names the file.

        All of these are checked before any weights are read. Weights load from safetensors only,
        never through pickle.
        """
        device = resolve_device(device)
        batch_size, chunk_chars, streams = checked_settings(batch_size, chunk_chars, streams)
        precision = check_precision(precision, device)
        settings = validate_checkpoint(path)
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForTokenClassification.from_pretrained(str(path), use_safetensors=True)
        # Also covers tokenizers built from vocab files, which validate_checkpoint cannot size.
        check_tokenizer_size(path, len(tokenizer), model.config.vocab_size)
        features = LexiconFeatureConfig.from_dict(settings.lexicon_features)
        needs_lexicon = features.enabled or load_decision(settings.decision).uses_lexicon
        lexicon = Lexicon.load(path) if needs_lexicon else None
        featurizer = LexiconFeaturizer(lexicon, features) if features.enabled else None
        decision = load_decision(settings.decision, lexicon, settings.cleaning)
        crf = load_crf(path) if settings.head == "crf" else None
        model = apply_precision(model.eval(), precision)
        return cls(model, tokenizer, settings, device=device, batch_size=batch_size, featurizer=featurizer,
                   decision=decision, crf=crf, chunk_chars=chunk_chars, streams=streams)

    def predict_probs(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per text (a sequence of str, not a str), the model's ``(len(text), 3)`` float32 tag
        probabilities: rows sum to 1, columns ``O``, ``B-KP``, ``I-KP``
        (:data:`~keyphrase_tagger.records.LABELS`). Raises ``TypeError`` for a str or a non-str item
        and ``ValueError`` for a lone surrogate, naming the text's index.

        With a CRF head (``head: crf``) the probabilities are its marginals (forward-backward),
        computed per window over the window's characters under the IOB2 constraint: ``I-KP`` has
        probability 0 at a text's first character. Windows are sorted by length so a batch pads
        little; each finished batch writes only the characters each window owns
        (``windows.owned_ranges``) into its document's array, so memory grows with the batch
        size, not with the length of a document.
        """
        return self._probs(checked_texts(texts))

    def _probs(self, texts: list[str], alongside: Callable[[], None] | None = None) -> list[np.ndarray]:
        """:meth:`predict_probs` of checked texts, running ``alongside()`` while the model reads them."""
        types = [self.featurizer.type_ids(t) for t in texts] if self.featurizer is not None else None
        return texts_probs(self.model, self.encoder, texts, self.settings.max_chars, self.settings.stride,
                           self.batch_size, self.device, types, self.crf, self.streams, alongside)

    def predict(self, texts: Sequence[str]) -> list[Decided]:
        """What the checkpoint's decision makes of each text's probabilities: tag ids per character
        (what the entity scores count) and phrase spans with scores, before cleaning.

        Args:
            texts: a sequence of str, as in :meth:`predict_probs`.

        Returns:
            One :class:`~keyphrase_tagger.decision.decoder.Decided` per text, in the order of ``texts``.

        Raises:
            TypeError, ValueError: as :meth:`predict_probs`.
        """
        return list(self.iter_predict(texts))

    def iter_predict(self, texts: Sequence[str]) -> Iterator[Decided]:
        """:meth:`predict`, one text's result at a time, so that a caller can write each out before
        the next is decided. The model reads the texts in groups of about
        :data:`~keyphrase_tagger.inference.overlap.MODEL_GROUP_CHARS` characters while the group
        before is decided beside it (:mod:`~keyphrase_tagger.inference.overlap`)."""
        return overlap.overlapped(checked_texts(texts), self._probs, self._decide, overlap.MODEL_GROUP_CHARS)

    def _decide(self, text: str, probs: np.ndarray) -> Decided:
        """The checkpoint's decision on one text, in pieces of ``chunk_chars`` where it is longer."""
        return decide_in_pieces(self.decision, text, probs, self.chunk_chars, self.settings.cleaning.strip_chars)

    def extract(self, text: str, **options) -> list[Phrase]:
        """The keyphrases of one text.

        Args:
            text: the text, of any length.
            **options: what to keep of the decoded phrases, applied in this order:

                - ``min_score`` (float, default 0.0): drop phrases scoring below it;
                - ``unique`` (bool, default False): keep one entry per distinct phrase string, its
                  best-scoring occurrence (else every occurrence is an entry);
                - ``top_k`` (int or None, default None): keep the ``k`` best-scoring entries (ties:
                  the earlier one), still returned in document order, not by score.

        Returns:
            :class:`~keyphrase_tagger.records.Phrase` objects in document order (by start
            offset), ``text[p.start:p.end] == p.text``. Where the checkpoint's rescorer lets
            phrases nest, a phrase and one inside it (``数字经济发展`` and ``数字经济``) are both
            returned, with overlapping offsets.

        Raises:
            TypeError: ``text`` is not a str, or an unknown option is passed.
            ValueError: ``text`` holds a lone surrogate.
        """
        return self.extract_many([text], **options)[0]

    def extract_many(self, texts: Iterable[str], **options) -> list[list[Phrase]]:
        """The keyphrases of each text, windows batched across texts (faster than one
        :meth:`extract` per text).

        Args:
            texts: any iterable of str, not a str itself.
            **options: ``min_score``, ``unique``, ``top_k``, as in :meth:`extract`, for every text.

        Returns:
            One list per text, in the order of ``texts``, each as :meth:`extract` returns it to
            float32 rounding (a batch's size and padding reorder the model's sums).

        Raises:
            TypeError: ``texts`` is a str, holds something other than str (named by its index), or
                an unknown option is passed.
            ValueError: a text holds a lone surrogate (named by its index).
        """
        return list(self.iter_extract(texts, **options))

    def iter_extract(self, texts: Iterable[str], **options) -> Iterator[list[Phrase]]:
        """:meth:`extract_many`, one text's phrases at a time, in the order of ``texts``: decided
        and decoded while the model reads the next group of texts (as :meth:`iter_predict`)."""
        cleaning = self.settings.cleaning
        return overlap.overlapped(checked_texts(texts), self._probs, lambda text, probs: decode_phrases(
            text, self._decide(text, probs), cleaning, **options), overlap.MODEL_GROUP_CHARS)
