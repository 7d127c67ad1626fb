"""The linear-chain CRF against brute force: every one of the 3^n tag paths of a short sequence
enumerated, the forbidden ones (I-KP first or after O) left out."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.records import B, I, O
from keyphrase_tagger.tagger.crf import (
    NUM_TAGS,
    WEIGHTS_FILE,
    LinearChainCRF,
    compact,
    load_crf,
    repair_iob2,
    save_crf,
)


def random_crf(seed: int, dtype: torch.dtype = torch.float64) -> LinearChainCRF:
    """A CRF with random non-zero scores, forbidden entries included (the mask must override them)."""
    generator = torch.Generator().manual_seed(seed)
    crf = LinearChainCRF().to(dtype)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=dtype))
    return crf


def random_emissions(seed: int, batch: int, seq: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 2 * torch.randn(batch, seq, NUM_TAGS, generator=generator, dtype=torch.float64)


def allowed(path: tuple[int, ...]) -> bool:
    return path[0] != I and all(not (a == O and b == I) for a, b in itertools.pairwise(path))


def path_score(crf: LinearChainCRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    """Score of ``path`` over ``emissions`` (n, T) from the raw parameters, written out term by term."""
    total = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
    total = total + sum(emissions[i, tag] for i, tag in enumerate(path))
    total = total + sum(crf.transitions[a, b] for a, b in itertools.pairwise(path))
    return float(total.detach())


def brute_force(crf: LinearChainCRF, emissions: torch.Tensor) -> tuple[float, list[int], torch.Tensor]:
    """``(log Z, best path, marginals (n, T))`` over the allowed paths of one sequence (n, T)."""
    n = emissions.shape[0]
    paths = [p for p in itertools.product(range(NUM_TAGS), repeat=n) if allowed(p)]
    scores = torch.tensor([path_score(crf, emissions, p) for p in paths], dtype=torch.float64)
    log_z = torch.logsumexp(scores, dim=0)
    marginals = torch.zeros(n, NUM_TAGS, dtype=torch.float64)
    for path, probability in zip(paths, torch.exp(scores - log_z)):
        marginals[torch.arange(n), torch.tensor(path)] += probability
    return float(log_z), list(paths[int(scores.argmax())]), marginals


def full_mask(batch: int, seq: int) -> torch.Tensor:
    return torch.ones(batch, seq, dtype=torch.bool)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_log_partition_viterbi_and_marginals_equal_brute_force(n):
    crf = random_crf(n)
    emissions = random_emissions(100 + n, batch=4, seq=n)
    mask = full_mask(4, n)
    log_z = crf.log_partition(emissions, mask)
    paths = crf.viterbi(emissions, mask)
    marginals = crf.marginals(emissions, mask)
    for row in range(4):
        expected_log_z, expected_path, expected_marginals = brute_force(crf, emissions[row])
        assert log_z[row].item() == pytest.approx(expected_log_z, abs=1e-10)
        assert paths[row] == expected_path
        torch.testing.assert_close(marginals[row], expected_marginals, atol=1e-10, rtol=0)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_score_and_nll_equal_brute_force(n):
    crf = random_crf(7 * n)
    emissions = random_emissions(n, batch=3, seq=n)
    paths = [p for p in itertools.product(range(NUM_TAGS), repeat=n) if allowed(p)]
    tags = torch.tensor([paths[i * 5 % len(paths)] for i in range(3)])
    mask = full_mask(3, n)
    scores = crf.score(emissions, tags, mask)
    losses = crf.neg_log_likelihood(emissions, tags, mask, reduction="none")
    for row in range(3):
        path = tuple(tags[row].tolist())
        assert scores[row].item() == pytest.approx(path_score(crf, emissions[row], path), abs=1e-10)
        log_z = brute_force(crf, emissions[row])[0]
        assert losses[row].item() == pytest.approx(log_z - path_score(crf, emissions[row], path), abs=1e-10)
    assert crf.neg_log_likelihood(emissions, tags, mask).item() == pytest.approx(losses.mean().item())
    assert crf.neg_log_likelihood(emissions, tags, mask, reduction="sum").item() == pytest.approx(losses.sum().item())


def test_forbidden_paths_have_probability_exactly_zero_even_when_emissions_favour_i():
    crf = random_crf(3)
    with torch.no_grad():
        crf.transitions[O, I] = 50.0  # a learned score there must not matter
        crf.start_transitions[I] = 50.0
    emissions = random_emissions(4, batch=6, seq=5)
    emissions[..., I] += 30.0
    mask = full_mask(6, 5)
    marginals = crf.marginals(emissions, mask)
    assert torch.all(marginals[:, 0, I] == 0.0)
    log_z = crf.log_partition(emissions, mask)
    o_then_i = torch.tensor([[B, I, O, I, I]] * 6)
    i_first = torch.tensor([[I, I, I, I, I]] * 6)
    for tags in (o_then_i, i_first):
        assert torch.all(torch.exp(crf.score(emissions, tags, mask) - log_z) == 0.0)
    for path in crf.viterbi(emissions, mask):
        assert allowed(tuple(path))
        assert path == [B, I, I, I, I]  # I everywhere it is allowed


def test_compact_moves_valid_positions_left_and_scatter_puts_them_back():
    mask = torch.tensor([[0, 1, 1, 0, 0], [1, 1, 1, 1, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    values = torch.arange(15).view(3, 5)
    prefix, lengths, order, packed = compact(mask, values)
    assert lengths.tolist() == [2, 4, 0]
    assert prefix.tolist() == [[True, True, False, False, False], [True] * 4 + [False], [False] * 5]
    assert packed[0, :2].tolist() == [1, 2] and packed[1, :4].tolist() == [5, 6, 7, 8]
    assert torch.equal(torch.zeros_like(values).scatter_(1, order, packed), values)


def test_batched_with_cls_and_padding_equals_each_sequence_alone():
    crf = random_crf(11)
    lengths = [1, 2, 3, 4, 5]
    seq = 8  # [CLS], up to 5 characters, [SEP], padding
    emissions = random_emissions(12, batch=len(lengths), seq=seq)
    emissions[:, 0] = float("nan")  # whatever sits at invalid positions must not leak
    tags = torch.full((len(lengths), seq), -100)
    mask = torch.zeros(len(lengths), seq, dtype=torch.bool)
    for row, n in enumerate(lengths):
        mask[row, 1:n + 1] = True
        tags[row, 1:n + 1] = torch.tensor([B, I, O, B, I][:n])
    log_z = crf.log_partition(emissions, mask)
    losses = crf.neg_log_likelihood(emissions, tags, mask, reduction="none")
    marginals = crf.marginals(emissions, mask)
    paths = crf.viterbi(emissions, mask)
    for row, n in enumerate(lengths):
        alone, alone_tags, alone_mask = emissions[row:row + 1, 1:n + 1], tags[row:row + 1, 1:n + 1], full_mask(1, n)
        torch.testing.assert_close(log_z[row:row + 1], crf.log_partition(alone, alone_mask), atol=1e-12, rtol=0)
        torch.testing.assert_close(losses[row:row + 1],
                                   crf.neg_log_likelihood(alone, alone_tags, alone_mask, "none"), atol=1e-12, rtol=0)
        torch.testing.assert_close(marginals[row, 1:n + 1], crf.marginals(alone, alone_mask)[0], atol=1e-12, rtol=0)
        assert paths[row] == crf.viterbi(alone, alone_mask)[0]
    assert torch.all(marginals[~mask] == 0.0)  # invalid positions are zeros


def test_an_empty_row_has_log_z_zero_no_path_and_zero_marginals():
    crf = random_crf(5)
    emissions = random_emissions(5, batch=2, seq=3)
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]], dtype=torch.bool)
    assert crf.log_partition(emissions, mask)[1].item() == 0.0
    assert crf.viterbi(emissions, mask)[1] == []
    assert torch.all(crf.marginals(emissions, mask)[1] == 0.0)


def test_nll_rejects_ignore_index_inside_the_mask_and_forbidden_gold_paths():
    crf = random_crf(6)
    emissions = random_emissions(6, batch=1, seq=3)
    mask = full_mask(1, 3)
    with pytest.raises(ValueError, match="-100"):
        crf.neg_log_likelihood(emissions, torch.tensor([[B, -100, I]]), mask)
    with pytest.raises(ValueError, match="IOB2"):
        crf.neg_log_likelihood(emissions, torch.tensor([[O, I, I]]), mask)


def test_repair_iob2_turns_orphan_i_into_b_at_valid_positions_only():
    tags = torch.tensor([[-100, I, I, O, I, -100], [-100, O, B, I, -100, -100]])
    mask = tags != -100
    repaired = repair_iob2(tags, mask)
    assert repaired.tolist() == [[-100, B, I, O, B, -100], [-100, O, B, I, -100, -100]]


def test_nll_gradients_are_finite_and_adam_reduces_the_loss():
    torch.manual_seed(0)
    crf = LinearChainCRF()
    emissions = torch.randn(4, 7, NUM_TAGS)
    emissions[:, 6] = float("nan")  # padding holding garbage must not poison the gradients
    emissions.requires_grad_()
    mask = torch.zeros(4, 7, dtype=torch.bool)
    mask[:, 1:6] = True
    tags = torch.full((4, 7), -100)
    tags[:, 1:6] = torch.tensor([B, I, I, O, B])
    loss = crf.neg_log_likelihood(emissions, tags, mask)
    loss.backward()
    for gradient in [emissions.grad, *(p.grad for p in crf.parameters())]:
        assert torch.isfinite(gradient).all()
    assert torch.all(emissions.grad[~mask] == 0.0)
    optimizer = torch.optim.Adam([emissions, *crf.parameters()], lr=0.1)
    first = loss.item()
    for _ in range(10):
        optimizer.zero_grad()
        loss = crf.neg_log_likelihood(emissions, tags, mask)
        loss.backward()
        optimizer.step()
    assert loss.item() < first
    assert crf.transitions.grad[O, I] == 0.0  # the forbidden entry receives no gradient


def test_save_and_load_round_trip(tmp_path):
    crf = random_crf(9, dtype=torch.float32)
    state = dict(crf.state_dict())
    assert set(state) == {"start_transitions", "end_transitions", "transitions"}
    assert all(isinstance(tensor, torch.Tensor) for tensor in state.values())
    path = save_crf(crf, tmp_path)
    assert path == tmp_path / WEIGHTS_FILE
    loaded = load_crf(tmp_path)
    emissions = random_emissions(9, batch=2, seq=5).float()
    mask = torch.tensor([[0, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(loaded.log_partition(emissions, mask), crf.log_partition(emissions, mask))
    assert torch.equal(loaded.marginals(emissions, mask), crf.marginals(emissions, mask))
    assert loaded.viterbi(emissions, mask) == crf.viterbi(emissions, mask)
    assert torch.equal(loaded.allowed_transitions, crf.allowed_transitions)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 5), offset=st.integers(0, 2),
       scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_marginals_sum_to_one_and_equal_brute_force(seed, n, offset, scale):
    crf = random_crf(seed)
    emissions = scale * random_emissions(seed + 1, batch=1, seq=offset + n + 1)
    mask = torch.zeros(1, offset + n + 1, dtype=torch.bool)
    mask[0, offset:offset + n] = True
    marginals = crf.marginals(emissions, mask)[0]
    valid = marginals[offset:offset + n]
    torch.testing.assert_close(valid.sum(dim=-1), torch.ones(n, dtype=torch.float64), atol=1e-10, rtol=0)
    log_z, path, expected = brute_force(crf, emissions[0, offset:offset + n])
    torch.testing.assert_close(valid, expected, atol=1e-10, rtol=0)
    assert crf.log_partition(emissions, mask).item() == pytest.approx(log_z, abs=1e-9 * max(1.0, abs(log_z)))
    assert crf.viterbi(emissions, mask)[0] == path
    assert not math.isnan(marginals.sum().item())
