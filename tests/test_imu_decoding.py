"""The step decoder (duration-aware Viterbi with a fixed lag), the TCN runtime, streams and
ensembles of step models, on synthetic inputs (no data, no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from repsense.imu.decoding import DecoderConfig, StepDecoder, decode
from repsense.imu.features import N_CLASSES, N_INPUTS, windows
from repsense.imu.model import StepModel

# break 8+, squat first 10-16 / second 10-16 (classes 3, 4); burpee and sit-up likewise
DURATIONS = ((8, 250), (12, 19), (22, 29), (10, 16), (10, 16), (16, 22), (13, 21))


def _labels(pattern: list[tuple[int, int]]) -> np.ndarray:
    return np.concatenate([np.full(n, c) for c, n in pattern])


def _probs(labels: np.ndarray, p: float = 0.8) -> np.ndarray:
    out = np.full((len(labels), N_CLASSES), (1 - p) / (N_CLASSES - 1))
    out[np.arange(len(labels)), labels] = p
    return out


SQUATS = _labels([(0, 30)] + [(3, 13), (4, 12), (0, 8)] * 5 + [(0, 40)])


def test_durations_are_learned_from_the_labels() -> None:
    cfg = DecoderConfig.from_labels([SQUATS, _labels([(0, 5), (3, 11), (4, 14), (0, 9), (3, 2)])])
    assert cfg.durations[3] == (11, 13) and cfg.durations[4] == (12, 14) and cfg.durations[0][0] == 8
    assert cfg.durations[1] == (1, 600)  # never seen: unconstrained
    with pytest.raises(ValueError):
        DecoderConfig.from_labels([_labels([(0, 5), (1, 3)])])  # no complete break
    assert DecoderConfig.from_dict(cfg.to_dict()) == cfg


def test_clean_probabilities_decode_to_themselves() -> None:
    cfg = DecoderConfig(DURATIONS)
    np.testing.assert_array_equal(decode(_probs(SQUATS), cfg), SQUATS)


def test_single_wrong_steps_and_too_short_runs_are_mended() -> None:
    probs = _probs(SQUATS)
    noisy = probs.copy()
    for t in (35, 47, 50, 75):            # single steps the classifier gets wrong inside reps ...
        noisy[t] = _probs(np.array([0]))[0]
    noisy[130:133] = _probs(np.array([1, 1, 1]))  # ... and a 3-step "burpee" inside a break
    assert np.count_nonzero(noisy.argmax(axis=1) != SQUATS) == 7
    np.testing.assert_array_equal(decode(noisy, DecoderConfig(DURATIONS)), SQUATS)


def test_streaming_gives_the_batch_labels_with_a_fixed_lag() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(N_CLASSES, 0.5), size=300)
    cfg = DecoderConfig(DURATIONS, lag=7, break_scale=0.6)
    dec = StepDecoder(cfg)
    got: list[int] = []
    for t, p in enumerate(probs):
        out = dec.update(p)
        assert len(out) == (1 if t >= cfg.lag else 0)  # step t - lag becomes final at step t
        got += out
    got += dec.flush()
    assert len(got) == len(probs)
    np.testing.assert_array_equal(np.array(got), decode(probs, cfg))
    # decoded at once (the lag covers the whole sequence), every run obeys the durations except
    # where the recording cuts it
    labels = decode(probs, DecoderConfig(DURATIONS, lag=len(probs), break_scale=0.6))
    edges = np.flatnonzero(np.diff(labels) != 0) + 1
    runs = list(zip(np.concatenate([[0], edges]), np.concatenate([edges, [len(labels)]])))
    assert len(runs) > 5
    for s, e in runs[1:-1]:
        lo, hi = DURATIONS[labels[s]]
        assert lo - cfg.slack <= e - s and (labels[s] == 0 or e - s <= hi + cfg.slack)


def _tiny_model(seed: int, length: int = 8) -> StepModel:
    rng = np.random.default_rng(seed)
    spec = [{"type": "conv", "pad": 1}, {"type": "relu"}, {"type": "flatten"}, {"type": "linear"}]
    weights = {"w0": rng.normal(size=(4, N_INPUTS, 3)).astype(np.float32), "b0": np.zeros(4, np.float32),
               "w3": rng.normal(size=(N_CLASSES, 4 * length)).astype(np.float32),
               "b3": np.zeros(N_CLASSES, np.float32)}
    return StepModel(spec, weights, np.zeros(N_INPUTS, np.float32), np.ones(N_INPUTS, np.float32), length, 2,
                     {"seed": seed, "decoder": DecoderConfig(DURATIONS).to_dict()})


def test_an_ensemble_is_the_mean_of_its_members_and_round_trips(tmp_path: Path) -> None:
    a, b = _tiny_model(0), _tiny_model(1)
    ens = StepModel.ensemble([a, b])
    win = np.random.default_rng(2).normal(size=(5, 8, N_INPUTS)).astype(np.float32)
    expected = (a.predict_proba(win) + b.predict_proba(win)) / 2
    np.testing.assert_allclose(ens.predict_proba(win), expected, rtol=1e-6)
    ens.save(tmp_path / "ens.npz")
    back = StepModel.load(tmp_path / "ens.npz")
    assert len(back.members) == 2 and back.length == 8 and back.lookahead == 2
    np.testing.assert_allclose(back.predict_proba(win), expected, rtol=1e-6)
    assert back.decoder() == DecoderConfig(DURATIONS)
    seq = np.random.default_rng(3).normal(size=(50, N_INPUTS)).astype(np.float32)
    assert back.predict_steps(seq).shape == (50,)
    with pytest.raises(ValueError):
        StepModel.ensemble([a, ens])


def test_tolerant_hits_forgive_a_boundary_off_by_the_allowed_steps_only() -> None:
    from repsense.imu.scoring import tolerant_hits

    true = np.array([0, 0, 0, 1, 1, 1, 0, 0])
    late = np.array([0, 0, 0, 0, 1, 1, 1, 0])       # the rep placed one step late
    assert tolerant_hits(true, late, 0).tolist() == (true == late).tolist()
    assert tolerant_hits(true, late, 1).all()
    wrong = np.array([2, 0, 0, 1, 1, 1, 0, 0])       # a wrong label far from any boundary
    assert not tolerant_hits(true, wrong, 2)[0] and tolerant_hits(true, wrong, 2)[1:].all()


def _tiny_tcn(seed: int, blocks: int = 3, channels: int = 6) -> StepModel:
    rng = np.random.default_rng(seed)
    w = {"in_w": rng.normal(size=(channels, N_INPUTS)), "in_b": rng.normal(size=channels),
         "out_w": rng.normal(size=(N_CLASSES, channels)), "out_b": rng.normal(size=N_CLASSES)}
    for i in range(blocks):
        w.update({f"b{i}_w1": rng.normal(size=(channels, channels, 3)) / 3, f"b{i}_b1": rng.normal(size=channels),
                  f"b{i}_w2": rng.normal(size=(channels, channels)) / 3, f"b{i}_b2": rng.normal(size=channels)})
    return StepModel([{"type": "tcn", "blocks": blocks}], {k: v.astype(np.float32) for k, v in w.items()},
                     np.zeros(N_INPUTS, np.float32), np.ones(N_INPUTS, np.float32), 2 ** (blocks + 1) - 1, 4,
                     {"decoder": DecoderConfig(DURATIONS).to_dict()})


def _tcn_by_definition(m: StepModel, win: np.ndarray) -> np.ndarray:
    """The TCN's output for the last step of one window, written out as dilated convolutions."""
    w = m.weights
    h = [w["in_w"] @ x + w["in_b"] for x in win]
    for i in range(int(m.spec[0]["blocks"])):
        d = 2 ** i
        h = [h[t + 2 * d] + w[f"b{i}_w2"] @ np.maximum(
            sum(w[f"b{i}_w1"][:, :, k] @ np.maximum(h[t + k * d], 0) for k in range(3)) + w[f"b{i}_b1"], 0)
            + w[f"b{i}_b2"] for t in range(len(h) - 2 * d)]
    (last,) = h
    z = w["out_w"] @ np.maximum(last, 0) + w["out_b"]
    return np.exp(z - z.max()) / np.exp(z - z.max()).sum()


@pytest.mark.parametrize("n_steps", [3, 12, 80])
def test_tcn_sequence_window_and_stream_agree(n_steps: int) -> None:
    """Whole sequence, one window per step and one step at a time give the same probabilities,
    the edges padded with the first and last step; short streams included."""
    m = _tiny_tcn(0)
    seq = np.random.default_rng(1).normal(size=(n_steps, N_INPUTS)).astype(np.float32)
    whole = m.predict_sequence(seq)
    assert whole.shape == (n_steps, N_CLASSES)
    wins = windows(seq, m.length, m.lookahead)
    np.testing.assert_allclose(m.predict_proba(wins), whole, atol=1e-6)
    np.testing.assert_allclose(m.predict_proba(wins[-1:])[0], _tcn_by_definition(m, wins[-1]), atol=1e-5)
    stream = m.stream()
    got = [p for p in (stream.push(x) for x in seq) if p is not None]
    assert len(got) == max(0, n_steps - m.lookahead)     # a step's probabilities come lookahead steps later
    got += stream.finish()
    np.testing.assert_allclose(np.array(got), whole, atol=1e-6)


def test_tcn_ensembles_round_trip_and_stream(tmp_path: Path) -> None:
    ens = StepModel.ensemble([_tiny_tcn(0), _tiny_tcn(1)])
    ens.save(tmp_path / "tcn.npz")
    back = StepModel.load(tmp_path / "tcn.npz")
    assert [m.is_tcn for m in back.members] == [True, True] and back.length == 15
    seq = np.random.default_rng(2).normal(size=(40, N_INPUTS)).astype(np.float32)
    whole = back.predict_sequence(seq)
    np.testing.assert_allclose(whole, ens.predict_sequence(seq), rtol=1e-6)
    np.testing.assert_allclose(whole, (_tiny_tcn(0).predict_sequence(seq) + _tiny_tcn(1).predict_sequence(seq)) / 2,
                               atol=1e-6)
    stream = back.stream()
    got = [p for p in (stream.push(x) for x in seq) if p is not None] + stream.finish()
    np.testing.assert_allclose(np.array(got), whole, atol=1e-6)


@pytest.mark.parametrize("n_steps", [1, 5, 30])
def test_window_model_stream_gives_its_sequence(n_steps: int) -> None:
    m = StepModel.ensemble([_tiny_model(0), _tiny_model(1)])
    seq = np.random.default_rng(4).normal(size=(n_steps, N_INPUTS)).astype(np.float32)
    stream = m.stream()
    got = [p for p in (stream.push(x) for x in seq) if p is not None] + stream.finish()
    np.testing.assert_allclose(np.array(got), m.predict_sequence(seq), atol=1e-6)
