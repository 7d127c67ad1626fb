"""A linear-chain CRF over the ``O``/``B-KP``/``I-KP`` tags, under the IOB2 constraint.

The constraint: ``I-KP`` may neither start a sequence nor follow ``O``. Those transitions are not
learned; a fixed boolean buffer fills them with ``-inf`` in every computation, so a forbidden path
has probability exactly 0 and its marginals are exactly 0. Every recursion keeps at least one finite
term per tag (``B-KP`` may start and may follow anything), so no ``-inf - -inf`` and no NaN appear
in values or gradients.

Masks: ``mask`` (batch, seq) marks the positions the chain runs over. A row's valid positions are
chained in order; the usual layout is a contiguous run after ``[CLS]`` at index 0 and before
``[SEP]``/padding. Every method first moves each row's valid positions to the left (:func:`compact`),
so the recursions only ever see prefix masks. Tags at invalid positions are ignored, and the
Hugging Face ignore index (-100) is accepted there only: a -100 at a valid position is an error, not
a position to skip, because skipping it would silently join its neighbours in the chain.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from keyphrase_tagger.records import LABELS, B, I, O
from keyphrase_tagger.tagger.inputs import IGNORE_INDEX

NUM_TAGS = len(LABELS)
WEIGHTS_FILE = "crf.safetensors"


def iob2_allowed() -> tuple[Tensor, Tensor]:
    """``(allowed_start (T,), allowed_transitions (T, T) [from, to])`` as boolean tensors."""
    start = torch.ones(NUM_TAGS, dtype=torch.bool)
    start[I] = False
    transitions = torch.ones(NUM_TAGS, NUM_TAGS, dtype=torch.bool)
    transitions[O, I] = False
    return start, transitions


def compact(mask: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
    """``(prefix_mask, lengths, order, *gathered)``: each row's valid positions moved to the left.

    ``order[b, j]`` is the original index of the row's ``j``-th position after compaction (valid ones
    first, in order, then the invalid ones), so ``out.scatter(1, order, x)`` puts ``x`` back. Each of
    ``tensors`` (batch, seq, ...) is gathered along dim 1 with ``order``.
    """
    mask = mask.bool()
    # A stable sort on "is invalid" keeps the valid positions in their order, then the rest.
    order = torch.sort((~mask).to(torch.uint8), dim=1, stable=True).indices
    lengths = mask.sum(dim=1)
    prefix = torch.arange(mask.shape[1], device=mask.device)[None, :] < lengths[:, None]
    gathered = []
    for tensor in tensors:
        index = order.view(*order.shape, *([1] * (tensor.dim() - 2))).expand_as(tensor)
        gathered.append(tensor.gather(1, index))
    return (prefix, lengths, order, *gathered)


def repair_iob2(tags: Tensor, mask: Tensor) -> Tensor:
    """``tags`` with each forbidden ``I-KP`` (first in the chain, or after ``O``) turned into ``B-KP``.

    A window cut inside a phrase starts with ``I-KP``; the CRF gives that path probability 0, so the
    gold tags must be repaired before :meth:`LinearChainCRF.neg_log_likelihood`. This reads an orphan
    ``I-KP`` as starting a span, as ``decoding`` and conlleval do. Invalid positions are unchanged.
    """
    prefix, _, order, packed = compact(mask, tags)
    previous = torch.cat([torch.full_like(packed[:, :1], O), packed[:, :-1]], dim=1)
    orphan = prefix & (packed == I) & (previous == O)
    repaired = torch.where(orphan, torch.full_like(packed, B), packed)
    return torch.empty_like(tags).scatter_(1, order, repaired)


class LinearChainCRF(torch.nn.Module):
    """Start, end and transition scores (learned, zero-initialised) plus the fixed IOB2 mask."""

    def __init__(self) -> None:
        super().__init__()
        self.start_transitions = torch.nn.Parameter(torch.zeros(NUM_TAGS))
        self.end_transitions = torch.nn.Parameter(torch.zeros(NUM_TAGS))
        self.transitions = torch.nn.Parameter(torch.zeros(NUM_TAGS, NUM_TAGS))  # [from, to]
        allowed_start, allowed = iob2_allowed()
        # Not persistent: the constraint is part of the code, so state_dict holds only the parameters.
        self.register_buffer("allowed_start", allowed_start, persistent=False)
        self.register_buffer("allowed_transitions", allowed, persistent=False)

    def _constrained(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(start, transitions, end)`` with the forbidden entries at ``-inf``."""
        start = self.start_transitions.masked_fill(~self.allowed_start, float("-inf"))
        transitions = self.transitions.masked_fill(~self.allowed_transitions, float("-inf"))
        return start, transitions, self.end_transitions

    def _prepare(self, emissions: Tensor, mask: Tensor, *extra: Tensor) -> tuple[Tensor, ...]:
        """Check shapes, compact, and zero the emissions at invalid positions (so that whatever
        padding holds, even NaN, reaches neither the values nor the gradients)."""
        if emissions.dim() != 3 or emissions.shape[-1] != NUM_TAGS or emissions.shape[1] == 0:
            raise ValueError(f"emissions must be (batch, seq >= 1, {NUM_TAGS}), got {tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"mask {tuple(mask.shape)} does not match emissions {tuple(emissions.shape)}")
        prefix, lengths, order, packed, *rest = compact(mask, emissions, *extra)
        packed = packed.masked_fill(~prefix[..., None], 0.0)
        return (prefix, lengths, order, packed, *rest)

    def _alphas(self, emissions: Tensor, prefix: Tensor) -> tuple[Tensor, Tensor]:
        """Forward algorithm on compacted inputs: ``(alphas (batch, seq, T), log_z (batch,))``."""
        start, transitions, end = self._constrained()
        alpha = start + emissions[:, 0]
        alphas = [alpha]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha[:, :, None] + transitions, dim=1) + emissions[:, t]
            alpha = torch.where(prefix[:, t, None], step, alpha)
            alphas.append(alpha)
        log_z = torch.logsumexp(alpha + end, dim=1)
        # An empty row has one path (the empty one) of score 0.
        return torch.stack(alphas, dim=1), torch.where(prefix[:, 0], log_z, torch.zeros_like(log_z))

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """``log Z`` (batch,): log-sum-exp of the scores of all allowed paths over the valid positions."""
        prefix, _, _, packed = self._prepare(emissions, mask)
        return self._alphas(packed, prefix)[1]

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """The score (batch,) of ``tags`` over the valid positions; ``-inf`` for a forbidden path."""
        prefix, lengths, _, packed, packed_tags = self._prepare(emissions, mask, tags)
        start, transitions, end = self._constrained()
        # Invalid positions may hold -100; index them as O, then drop their terms with where().
        safe = torch.where(prefix, packed_tags, torch.zeros_like(packed_tags))
        zero = packed.new_zeros(())
        emitted = torch.where(prefix, packed.gather(2, safe[..., None]).squeeze(-1), zero).sum(dim=1)
        linked = torch.where(prefix[:, 1:], transitions[safe[:, :-1], safe[:, 1:]], zero).sum(dim=1)
        last = safe.gather(1, (lengths - 1).clamp(min=0)[:, None]).squeeze(1)
        ends = start[safe[:, 0]] + end[last]
        return emitted + linked + torch.where(lengths > 0, ends, zero)

    def neg_log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor,
                           reduction: str = "mean") -> Tensor:
        """The training loss ``log Z - score(tags)``, reduced by ``"mean"``, ``"sum"`` or ``"none"``.

        ``tags`` may hold -100 only where ``mask`` is 0; at valid positions they must be tag ids forming
        an allowed path (see :func:`repair_iob2`). Either violation raises ``ValueError``.
        """
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        valid = mask.bool()
        ignored_inside = (valid & (tags == IGNORE_INDEX)).any()
        out_of_range = (valid & (tags != IGNORE_INDEX) & ((tags < 0) | (tags >= NUM_TAGS))).any()
        forbidden = (repair_iob2(tags, valid) != tags).any()
        checks = torch.stack([ignored_inside, out_of_range, forbidden]).tolist()  # one device sync
        if checks[0]:
            raise ValueError(f"tags hold {IGNORE_INDEX} at a position the mask marks valid")
        if checks[1]:
            raise ValueError(f"tags outside [0, {NUM_TAGS}) at a valid position")
        if checks[2]:
            raise ValueError("a gold path breaks IOB2 (I-KP first or after O); repair it with repair_iob2")
        loss = self.log_partition(emissions, mask) - self.score(emissions, tags, mask)
        if reduction == "none":
            return loss
        return loss.sum() if reduction == "sum" else loss.mean()

    def marginals(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """``P(tag at position = k)`` (batch, seq, T) by forward-backward.

        Rows sum to 1 at valid positions; invalid positions are all zeros (so the output can be
        multiplied or summed without masking again). Forbidden tags get exactly 0.
        """
        prefix, _, order, packed = self._prepare(emissions, mask)
        alphas, log_z = self._alphas(packed, prefix)
        _, transitions, end = self._constrained()
        beta = end.expand(packed.shape[0], NUM_TAGS)
        betas = [beta]
        for t in range(packed.shape[1] - 2, -1, -1):
            step = torch.logsumexp(transitions + (packed[:, t + 1] + beta)[:, None, :], dim=2)
            # Where t + 1 is invalid, t is the last valid position (or invalid itself): beta = end.
            beta = torch.where(prefix[:, t + 1, None], step, end.expand_as(step))
            betas.append(beta)
        probs = torch.exp(alphas + torch.stack(betas[::-1], dim=1) - log_z[:, None, None])
        probs = probs.masked_fill(~prefix[..., None], 0.0)
        return torch.zeros_like(probs).scatter_(1, order[..., None].expand_as(probs), probs)

    @torch.no_grad()
    def viterbi(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """The best allowed path of each row, one tag id per valid position (in order)."""
        prefix, lengths, _, packed = self._prepare(emissions, mask)
        start, transitions, end = self._constrained()
        best = start + packed[:, 0]
        pointers = []
        for t in range(1, packed.shape[1]):
            scores, pointer = (best[:, :, None] + transitions).max(dim=1)
            best = torch.where(prefix[:, t, None], scores + packed[:, t], best)
            pointers.append(pointer)
        current = (best + end).argmax(dim=1)
        path = [current]
        # Walk back; a row holds its last tag until t reaches its own last valid position.
        for t in range(packed.shape[1] - 1, 0, -1):
            previous = pointers[t - 1].gather(1, current[:, None]).squeeze(1)
            current = torch.where(prefix[:, t], previous, current)
            path.append(current)
        tags = torch.stack(path[::-1], dim=1).tolist()
        return [row[:n] for row, n in zip(tags, lengths.tolist())]


def save_crf(crf: LinearChainCRF, directory: str | Path) -> Path:
    """Write the parameters to ``directory/crf.safetensors`` (plain tensors, no pickle)."""
    from safetensors.torch import save_file

    path = Path(directory) / WEIGHTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({name: tensor.detach().contiguous().cpu() for name, tensor in crf.state_dict().items()}, str(path))
    return path


def load_crf(directory: str | Path) -> LinearChainCRF:
    """A :class:`LinearChainCRF` with the parameters of ``directory/crf.safetensors``; the IOB2 mask
    is rebuilt from the code, not read."""
    from safetensors.torch import load_file

    state = load_file(str(Path(directory) / WEIGHTS_FILE))
    crf = LinearChainCRF().to(state["transitions"].dtype)  # keep the saved precision
    crf.load_state_dict(state, strict=True)
    return crf
