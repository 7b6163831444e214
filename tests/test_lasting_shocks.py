"""Lasting shocks: holds that stop relations healing, rerouted cargo, incentives tied to choices."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from multivector.actors import INDEX
from multivector.calendar import parse_month
from multivector.cli.commands import app
from multivector.core.model import MultivectorModel
from multivector.core.world import World
from multivector.errors import InputError
from multivector.inputs.library import Effect
from multivector.inputs.scenario import Scenario, load_scenario, scenario_parameters
from multivector.runs.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
KAZ, RUS, CHN, USA = INDEX["KAZ"], INDEX["RUS"], INDEX["CHN"], INDEX["USA"]
# after the record's last episode: only the scenario's own shocks act
QUIET = {"name": "quiet", "question": "test", "start": "2030-01", "end": "2031-12", "seed": 5}
BLOCKADE = {
    "kind": "transit_restriction",
    "name": "blockade",
    "date": "2030-04",
    "restrictor": "RUS",
    "restricted": "KAZ",
    "route": "rail",
    "alternatives": ["CHN"],
    "duration_months": 6,
    "intensity": 1.5,
}


def quiet(*shocks: dict) -> Scenario:
    return Scenario.model_validate({**QUIET, "shock": list(shocks)})


def test_a_held_relation_does_not_heal_until_the_hold_is_released():
    baseline = np.full((6, 6), 0.5)
    world = World.start(baseline, replicates=2)
    world.relation[:, KAZ, RUS] = 0.1  # far below its structural level
    world.relation[:, KAZ, CHN] = 0.9  # far above
    down = Effect("relation", KAZ, RUS, -0.2)
    up = Effect("relation", KAZ, CHN, 0.2)
    world.hold(down, np.array([1.0, 0.0]))  # held in replicate 0 only
    world.hold(up, np.array([1.0, 0.0]))
    for _ in range(12):
        world.relax(baseline, rate=0.1, mood_rate=0.1)
    assert world.relation[0, KAZ, RUS] == 0.1  # held down: no healing
    assert world.relation[0, KAZ, CHN] == 0.9  # held up: no cooling
    assert world.relation[1, KAZ, RUS] > 0.3  # unheld: relaxes toward 0.5
    world.hold(down, np.array([-1.0, 0.0]))  # released
    world.relax(baseline, rate=0.1, mood_rate=0.1)
    assert world.relation[0, KAZ, RUS] == pytest.approx(0.1 + 0.1 * 0.4)


def test_a_relation_held_down_still_falls_toward_the_held_level():
    baseline = np.full((6, 6), 0.5)
    world = World.start(baseline, replicates=1)
    world.hold(Effect("mood", KAZ, RUS, -0.3), np.ones(1))
    world.relax(baseline, rate=0.5, mood_rate=0.5)
    assert world.mood[0, KAZ, RUS] == pytest.approx(0.5 + 0.5 * (0.2 - 0.5))


def test_a_blockade_holds_alignment_down_while_it_lasts_and_reroutes_cargo_for_good():
    shocked = run_scenario(quiet(BLOCKADE), replicates=200)
    plain = run_scenario(quiet(), replicates=200)
    months = shocked.months
    # blocked in 2030-04 to 2030-09 (six months); it ends in 2030-10
    onset, end = months.index(parse_month("2030-04")), months.index(parse_month("2030-09"))
    alignment = shocked.alignment()[:, :, RUS].mean(axis=1)
    assert alignment[onset] < alignment[onset - 1] - 0.05
    assert np.all(alignment[onset : end + 1] <= alignment[onset] + 1e-9)  # no healing
    assert alignment[-1] > alignment[end] + 0.05  # heals once it ends
    transit = shocked.transit()[:, :, RUS].mean(axis=1)
    structural = plain.transit()[:, :, RUS].mean(axis=1)
    assert transit[onset - 1] == structural[onset - 1]
    assert transit[-1] < structural[-1] - 0.05  # rerouted cargo stays rerouted
    assert np.all(np.diff(transit[onset : end + 1]) < 0)  # some more each month blocked
    assert shocked.transit()[-1, :, CHN].mean() > plain.transit()[-1, :, CHN].mean() + 0.02
    assert shocked.dependence()[-1, :, RUS].mean() < plain.dependence()[-1, :, RUS].mean()


def test_rerouted_transit_enters_dependence_through_the_transit_weight():
    model = MultivectorModel(quiet(), replicates=1)
    model.step()
    before = model.dependence_now()[0, KAZ, RUS]
    model.world.apply(Effect("transit", KAZ, RUS, -0.3), np.ones(1))
    assert model.transit_now()[0, KAZ, RUS] == pytest.approx(
        model.structure.transit[0, KAZ, RUS] - 0.3
    )
    assert model.dependence_now()[0, KAZ, RUS] < before - 0.02
    blind = scenario_parameters(quiet()).with_values(dependence__transit=0.0)
    model = MultivectorModel(quiet(), replicates=1, parameters=blind)
    model.step()
    before = model.dependence_now()[0, KAZ, RUS]
    model.world.apply(Effect("transit", KAZ, RUS, -0.3), np.ones(1))
    assert model.dependence_now()[0, KAZ, RUS] == pytest.approx(before)


def test_trajectories_record_mood_and_transit():
    from multivector.api import RunResult

    run = run_scenario(quiet(BLOCKADE), replicates=3)
    table = RunResult(run).trajectories
    for metric in ("mood", "transit"):
        assert [c for c in table.columns if c.startswith(f"{metric}_")] == [
            f"{metric}_{c}" for c in ("RUS", "USA", "CHN", "BLR", "UKR")
        ]
    last = table[table.month == "2031-12"].sort_values("replicate")
    assert np.allclose(last.transit_RUS, run.transit()[-1, :, RUS])
    assert np.allclose(last.mood_RUS, run.mood()[-1, :, RUS])


VENUE = ROOT / "scenarios" / "venue_2018_us_incentives.toml"


def test_a_tied_offer_rewards_its_choice_and_is_made_only_where_it_was_chosen():
    scenario = load_scenario(VENUE)
    model = MultivectorModel(scenario, replicates=300)
    venue = next(s for s in model.shocks if s.shock.name == "pressed-venue-2018")
    follow_up = next(d for d in venue.onset.decisions if d.key == "pressed-venue-2018/follow-up")
    untied = scenario.model_copy(update={"shock": [scenario.shock[0]]})
    plain = MultivectorModel(untied, replicates=1).shocks[0]
    plain_follow_up = next(d for d in plain.onset.decisions if d.key == follow_up.key)
    insist = follow_up.options.index("insist")
    assert follow_up.features[3, insist] == pytest.approx(plain_follow_up.features[3, insist] + 0.4)
    assert np.array_equal(
        np.delete(follow_up.features, insist, 1), np.delete(plain_follow_up.features, insist, 1)
    )
    model.run()
    chose = model.chose("pressed-venue-2018/follow-up", KAZ, ["insist"])
    offered = next(
        r for r in model.recorder.decisions if r.decision.key == "us-incentive-2018/accept"
    )
    assert 0 < chose.sum() < len(chose)
    assert np.array_equal(offered.posed, chose)


@pytest.mark.parametrize(
    ("tie", "field", "problem"),
    [
        (
            '{ decision = "pressed-venue-2018/nothing", option = "insist" }',
            "tied_to.decision",
            "poses",
        ),
        (
            '{ decision = "pressed-venue-2018/follow-up", option = "beg" }',
            "tied_to.option",
            "not among",
        ),
        (
            '{ decision = "pressed-venue-2018/party-rus", option = "agree" }',
            "tied_to.decision",
            "does not decide",
        ),
    ],
)
def test_a_bad_tie_is_one_line_naming_the_field(tmp_path, tie, field, problem):
    text = VENUE.read_text()
    text = text.replace('{ decision = "pressed-venue-2018/follow-up", option = "insist" }', tie)
    bad = tmp_path / "venue.toml"
    bad.write_text(text)
    with pytest.raises(InputError) as raised:
        load_scenario(bad)
    assert raised.value.field.endswith(field) and problem in raised.value.problem
    result = CliRunner().invoke(
        app, ["run", str(bad), "--replicates", "2", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_drift_traces_a_lasting_shock_month_by_month(tmp_path):
    from multivector.analysis.drift import lasting_shock_paths
    from multivector.runs.compare import compare

    chance = {**BLOCKADE, "name": "maybe", "probability": 0.5, "date": "2030-02"}
    file = tmp_path / "quiet.toml"
    file.write_text("")
    paired = compare(
        quiet(), quiet(BLOCKADE, chance), baseline_file=file, scenario_file=file, replicates=40
    )
    (traced,) = lasting_shock_paths(paired)  # the chance shock is left out
    phases = [(m["month"], m["phase"]) for m in traced["path"]]
    assert phases == [
        ("2030-03", "before"),
        *[(f"2030-{k:02d}", "during") for k in range(4, 10)],
        ("2030-10", "ends"),
        ("2031-12", "after"),
    ]
    before, after = traced["path"][0], traced["path"][-1]
    assert after["scenario"]["transit_RUS"] < before["scenario"]["transit_RUS"] - 0.05
    assert after["baseline"]["transit_RUS"] == before["baseline"]["transit_RUS"]
