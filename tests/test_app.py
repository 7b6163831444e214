"""The teaching app's logic without a browser: controls, play mode, debrief, isolation."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from multivector.actors import INDEX, KAZAKHSTAN, POLES
from multivector.app.teaching import (
    DEFAULT_SCENARIO,
    TeachingModel,
    debrief,
    kazakh_weight,
    outcome,
    parse_seed,
    plain,
    records_of,
    scenario_files,
    scenario_for,
    summarise,
)
from multivector.core.model import MultivectorModel

POLE_COLUMNS = [INDEX[p] for p in POLES]
ROOT = Path(__file__).resolve().parent.parent


def play_until_choice(model: TeachingModel) -> list:
    model.run_to_next_choice()
    return model.pending()


def test_scenarios_are_offered_history_first():
    names = scenario_files()
    assert names[0] == DEFAULT_SCENARIO
    assert "russian_transit_blockade_2025.toml" in names
    assert len(names) == len(set(names))


def sha256_seed(text: str) -> int:
    """The documented derivation for non-numeric text: the first four bytes of its SHA-256."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def test_seed_text_is_converted():
    assert parse_seed("42", 7) == 42
    assert parse_seed(" 42 ", 7) == 42
    assert parse_seed("", 7) == 7
    assert parse_seed("   ", 7) == 7
    assert parse_seed(None, 7) == 7
    # Text that is not a number is hashed to a fixed seed: the stripped text's SHA-256.
    assert sha256_seed("4x2") == 0x496880BD  # pinned, so the helper itself cannot drift
    typos = ["4x2", " 4x2 ", "42a", "-3", "seed", "ääh"]
    for typo in typos:
        assert parse_seed(typo, 7) == sha256_seed(typo.strip()), typo
    assert len({parse_seed(t, 7) for t in ["4x2", "42a", "-3", "seed", "ääh"]}) == 5


def test_seed_text_gives_the_same_seed_in_every_process():
    """Python's own ``hash`` of a string changes between processes; the seed must not."""
    code = (
        "from multivector.app.teaching import parse_seed; "
        "print(parse_seed('4x2', 7), parse_seed('ääh', 7))"
    )
    seen = set()
    for hash_seed in ("1", "2", "random"):
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=os.environ | {"PYTHONHASHSEED": hash_seed, "PYTHONIOENCODING": "utf-8"},
            cwd=ROOT,
            check=True,
        )
        seen.add(done.stdout.strip())
    assert seen == {f"{sha256_seed('4x2')} {sha256_seed('ääh')}"}


def test_controls_build_the_run():
    calibrated = TeachingModel(replicates=2).parameters
    model = TeachingModel(seed="11", replicates=20, autonomy=1.7, principle=0.0)
    assert model.seed == 11 and model.replicates == 20
    assert kazakh_weight(model.parameters, "autonomy") == pytest.approx(
        1.7 * kazakh_weight(calibrated, "autonomy")
    )
    assert kazakh_weight(model.parameters, "principle") == 0.0
    assert kazakh_weight(model.parameters, "partner") == kazakh_weight(calibrated, "partner")
    assert model.settings["autonomy"] == pytest.approx(1.7)
    assert model.weights_in_force["principle"] == 0.0
    # Multipliers of 1 leave the parameter file exactly as it is.
    assert TeachingModel(replicates=2).parameters.sha256 == calibrated.sha256
    assert model.recorder.keep_relations
    assert model.scenario_spec.name == scenario_for(DEFAULT_SCENARIO).name
    # Other states keep the parameter file's weights.
    russia = INDEX["RUS"]
    np.testing.assert_array_equal(model.parameters.weights[russia], calibrated.weights[russia])


BLOCKADE = "russian_transit_blockade_2025.toml"


def test_shock_intensity_slider_changes_the_scenario():
    model = TeachingModel(scenario_file=BLOCKADE, **{"shock:russian-blockade-2025": 0.4})
    assert model.scenario_spec.shock[0].intensity == pytest.approx(0.4)
    assert model.settings["shock:russian-blockade-2025"] == pytest.approx(0.4)
    written = TeachingModel(scenario_file=BLOCKADE)
    assert written.scenario_spec.shock[0].intensity == pytest.approx(1.5)
    # The label the app lists works as well as the file name.
    assert TeachingModel(scenario_file="russian transit blockade 2025").scenario_file == BLOCKADE


def test_sliders_left_over_from_another_scenario_are_ignored():
    model = TeachingModel(scenario_file=BLOCKADE, **{"shock:us-secondary-2023": 0.1})
    assert model.scenario_spec.shock[0].intensity == pytest.approx(1.5)
    with pytest.raises(TypeError, match="unexpected"):
        TeachingModel(autonomyy=2.0)


def test_mesa_reset_rebuilds_the_run_from_the_app_parameters():
    """Mesa's Reset: check the parameters, split them, build the model class by keyword."""
    import mesa.visualization.solara_viz as mesa_viz  # a dependency (mesa[rec]): never skipped

    from multivector.app.page import model_params

    model = TeachingModel(scenario_file=BLOCKADE, seed="3", replicates=20, play=True)
    params = model_params(model)
    mesa_viz._check_model_params(model, params)
    user, fixed = mesa_viz.split_model_params(params)
    assert not fixed and "shock:russian-blockade-2025" in user
    values = {name: spec["value"] for name, spec in user.items()}
    values["autonomy"] = 1.5
    kwargs = mesa_viz._build_model_init_kwargs(
        model, values, add_scenario_when_empty=True, require_model_accepts_scenario=True
    )
    rebuilt = type(model)(**kwargs)
    assert rebuilt.scenario_file == BLOCKADE and rebuilt.play and rebuilt.seed == 3
    assert rebuilt.replicates == 20 and rebuilt.settings["autonomy"] == 1.5
    assert rebuilt.scenario_spec == model.scenario_spec


def test_teaching_model_runs_the_model_itself():
    """Outside play mode a teaching run is exactly the model's run with the same inputs."""
    model = TeachingModel(seed="5", replicates=12)
    plain_run = MultivectorModel(
        model.scenario_spec, replicates=12, rng=5, parameters=model.parameters
    )
    for _ in range(40):
        model.step()
        plain_run.step()
    np.testing.assert_array_equal(
        model.recorder.alignment_array(), plain_run.recorder.alignment_array()
    )
    assert model.month == plain_run.month


def test_play_mode_waits_for_the_student_and_imposes_the_choice():
    model = TeachingModel(seed="3", replicates=30, play=True)
    pending = play_until_choice(model)
    assert pending, "the documented record has a decision for Kazakhstan"
    decision = pending[0]
    steps = model.steps
    model.step()  # no choice yet: the month is held back
    assert model.steps == steps and model.waiting
    option = decision.options[-1]
    turn = model.choose(decision.key, option)
    assert turn.student == option
    assert turn.history == decision.options[decision.observed[KAZAKHSTAN]]
    for other in model.pending():
        model.choose(other.key, None)  # let the model decide the rest of the month
    model.step()
    assert model.steps == steps + 1
    record = records_of(model, decision.key)[0]
    column = record.decision.deciders.index(KAZAKHSTAN)
    assert (record.choices[:, column] == decision.options.index(option)).all()
    # The model still records its own probabilities for every option.
    assert np.allclose(record.probabilities[:, column].sum(axis=-1), 1.0)


def test_choose_rejects_unknown_decisions_and_options():
    model = TeachingModel(replicates=5, play=True)
    decision = play_until_choice(model)[0]
    with pytest.raises(ValueError, match="not an option"):
        model.choose(decision.key, "invade")
    with pytest.raises(ValueError, match="not a decision"):
        model.choose("no-such/decision", None)


def test_watch_mode_never_waits():
    model = TeachingModel(replicates=5)
    while model.running:
        model.step()
    assert model.steps == model.months_total
    assert not model.turns


def test_certain_shocks_are_played_too():
    model = TeachingModel(scenario_file="kazakh_unsc_seat_ukraine_vote.toml", play=True)
    keys = [d.key for d in play_until_choice(model)]
    assert keys == ["unsc-ukraine-integrity-2025/vote"]


def play_three(model: TeachingModel) -> list[str]:
    """Choose the first option at the first three decisions; return the keys."""
    keys = []
    while len(keys) < 3:
        decision = play_until_choice(model)[0]
        model.choose(decision.key, decision.options[0])
        keys.append(decision.key)
        if not model.pending():
            model.step()
    for rest in model.pending():
        model.choose(rest.key, None)
    model.step()
    return keys


def test_debrief_figures():
    model = TeachingModel(seed="9", replicates=40, play=True)
    keys = play_three(model)
    result = debrief(model)
    assert [r.key for r in result.chosen] == keys
    assert all(r.student is None for r in result.rows if r.key not in keys)
    for row in result.chosen:
        record = records_of(model, row.key)[0]
        column = record.decision.deciders.index(KAZAKHSTAN)
        expected = record.probabilities[:, column].mean(axis=0)
        np.testing.assert_allclose(row.probabilities, expected)
        assert sum(row.probabilities) == pytest.approx(1.0)
        assert row.student == row.options[0]
        documented = record.decision.observed.get(KAZAKHSTAN)
        assert row.history == (None if documented is None else row.options[documented])
        assert row.probability(row.student) == pytest.approx(expected[0])
        assert row.as_history == (row.student == row.history)
    comparable = [r for r in result.chosen if r.history is not None]
    assert result.agreed == sum(r.student == r.history for r in comparable)
    assert result.mean_p_student == pytest.approx(
        np.mean([r.probabilities[0] for r in result.chosen])
    )
    # Trajectories: the student's run, Astana's choices instead, the model's own Kazakhstan.
    months = model.steps
    assert result.student.shape == result.documented.shape == result.model_run.shape
    assert result.student.shape == (months, 40, 3)
    np.testing.assert_array_equal(
        result.student, model.recorder.alignment_array()[..., POLE_COLUMNS]
    )
    # Common random numbers: identical until the first decision the student took.
    first = model.recorder.months.index(result.rows[0].month)
    np.testing.assert_array_equal(result.student[:first], result.model_run[:first])
    assert "You chose as Astana did in" in result.summary()


def test_debrief_documented_run_follows_the_record():
    """Choosing as Astana did gives exactly the documented-choices run."""
    model = TeachingModel(seed="4", replicates=20, play=True)
    for _ in range(4):
        for decision in play_until_choice(model):
            documented = decision.observed.get(KAZAKHSTAN)
            model.choose(decision.key, None if documented is None else decision.options[documented])
        model.step()
    result = debrief(model)
    assert result.agreed == len(result.comparable) > 0
    np.testing.assert_array_equal(result.student, result.documented)


def test_outcome_shows_the_others_reactions():
    model = TeachingModel(seed="2", replicates=30, play=True)
    decision = play_until_choice(model)[0]
    model.choose(decision.key, decision.options[0])
    for other in model.pending():
        model.choose(other.key, None)
    model.step()
    for _ in range(3):  # reactions come a month later
        for later in model.pending():
            model.choose(later.key, None)
        model.step()
    result = outcome(model, decision.key)
    assert result.kazakhstan.actor == "KAZ"
    assert result.kazakhstan.shares[0] == 1.0
    assert result.before.shape == result.now.shape == (3,)
    for part in result.others:
        assert part.actor != "KAZ"
        assert part.shares.sum() == pytest.approx(1.0) or part.posed == 0


def test_summarise_counts_only_replicates_where_posed():
    model = TeachingModel(seed="1", replicates=50)
    for _ in range(30):
        model.step()
    partial = [r for r in model.recorder.decisions if 0 < r.posed.sum() < 50]
    assert partial, "some reactions come up in only part of the runs"
    for part in summarise(partial[0]):
        assert part.posed == partial[0].posed.sum()
        assert part.shares.sum() == pytest.approx(1.0)


def test_sessions_are_isolated():
    """Two sessions with the same settings: stepping, choosing or resetting one leaves the other."""
    first = TeachingModel(seed="8", replicates=10, play=True)
    second = TeachingModel(seed="8", replicates=10, play=True)
    decision = play_until_choice(first)[0]
    assert second.steps == 0 and not second.turns
    first.choose(decision.key, decision.options[-1])
    assert not second.turns and not second.imposed
    play_until_choice(second)
    for other in second.pending():
        second.choose(other.key, None)
    second.step()
    assert second.recorder.decisions is not first.recorder.decisions
    assert (decision.key, KAZAKHSTAN) in first.imposed
    assert (decision.key, KAZAKHSTAN) not in second.imposed
    # Many sessions side by side (a class of 30): each advances only when stepped.
    sessions = [TeachingModel(seed=str(k), replicates=10) for k in range(30)]
    for k, session in enumerate(sessions):
        for _ in range(k):
            session.step()
    assert [s.steps for s in sessions] == list(range(30))


def test_plain_names():
    assert plain("RUS restricts KAZ's transit") == "Russia restricts Kazakhstan's transit"
    assert plain("comply_without_joining") == "comply without joining"


def test_skipping_ahead_leaves_the_choices_to_the_model():
    from multivector.calendar import month_label, parse_month

    model = TeachingModel(replicates=10, play=True)
    model.let_model_decide_until(parse_month("2022-01"))
    assert model.next_month >= parse_month("2022-01")
    assert model.pending(), "stops at Kazakhstan's first decision of 2022"
    assert month_label(model.next_month).startswith("2022")
    assert model.turns and all(t.student is None for t in model.turns)
    assert not model.imposed
    result = debrief(model)
    assert not result.chosen and len(result.rows) == len(model.turns)
