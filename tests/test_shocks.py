"""Shocks, scenario options and paired comparison."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from multivector.actors import INDEX
from multivector.analysis.drift import drift_summary
from multivector.calendar import parse_month
from multivector.cli.commands import app
from multivector.core.model import MultivectorModel
from multivector.inputs.scenario import Scenario, load_scenario, scenario_parameters
from multivector.inputs.shocks import SHOCK_KINDS, compile_shock, load_templates
from multivector.runs.compare import compare

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.toml") if "history" not in p.name)
KAZ, RUS, CHN, USA = INDEX["KAZ"], INDEX["RUS"], INDEX["CHN"], INDEX["USA"]

# one example of every kind, each touching Kazakhstan
EXAMPLES = {
    "sanctions": {"imposer": "USA", "target": "RUS", "secondary": ["KAZ"], "scope": "energy"},
    "venue_proposal": {
        "proposer": "USA",
        "conflict": "Donbas",
        "host": "KAZ",
        "incumbent": "BLR",
        "parties": ["RUS", "UKR"],
    },
    "un_vote": {
        "body": "UNSC",
        "sponsors": ["USA"],
        "target": "RUS",
        "issues": ["territorial_integrity"],
        "seats": ["KAZ"],
    },
    "transit_restriction": {
        "restrictor": "RUS",
        "restricted": "KAZ",
        "route": "rail",
        "alternatives": ["CHN"],
        "duration_months": 6,
    },
    "transit_request": {"requester": "USA", "host": "KAZ", "purpose": "military"},
    "visa_policy": {"grantor": "KAZ", "beneficiaries": ["USA"], "objectors": ["RUS"]},
    "pipeline_disruption": {
        "operator": "RUS",
        "affected": "KAZ",
        "route": "CPC",
        "duration_months": 3,
    },
    "corridor_agreement": {"partner": "CHN", "member": "KAZ", "bypassed": "RUS", "route": "TC"},
    "partnership_offer": {
        "offerer": "CHN",
        "recipient": "KAZ",
        "rivals": ["RUS"],
        "duration_months": 12,
    },
    "media_campaign": {"source": "RUS", "target": "KAZ", "duration_months": 12},
    "protest": {"country": "KAZ", "against": "CHN"},
    "security_crisis": {"country": "KAZ", "allies": ["RUS", "BLR"], "observers": ["USA"]},
}


def scenario(*shocks: dict, **fields) -> Scenario:
    """A scenario of the given shocks (validated exactly as a file would be)."""
    data = {
        "name": "test",
        "question": "test",
        "start": "2024-01",
        "end": "2025-12",
        "seed": 5,
        "shock": [{"name": f"s{k}", "date": "2024-06", **s} for k, s in enumerate(shocks)],
    }
    return Scenario.model_validate({**data, **fields})


def test_every_kind_has_a_template_and_an_example():
    """The twelve kinds all compile, from the templates, into episodes."""
    assert len(SHOCK_KINDS) >= 10
    assert set(EXAMPLES) == set(SHOCK_KINDS)
    assert set(load_templates()) == set(SHOCK_KINDS) - {"un_vote"}
    for kind, fields in EXAMPLES.items():
        shock = scenario({"kind": kind, **fields}).shock[0]
        compiled = compile_shock(shock)
        deciders = {a for d in compiled.onset.decision for a in d.deciders}
        assert compiled.onset.decision or compiled.onset.kind == "un_vote", kind
        assert "KAZ" in deciders or kind == "un_vote", kind
        assert (compiled.ending is not None) == (
            kind
            in ("transit_restriction", "pipeline_disruption", "partnership_offer", "media_campaign")
        ), kind  # noqa: E501


def test_intensity_scales_stakes_and_is_clipped():
    """Intensity multiplies approvals, material and effects, and never leaves [-1, 1]."""
    fields = {"kind": "sanctions", "imposer": "USA", "target": "RUS", "secondary": ["KAZ"]}
    single = compile_shock(scenario(fields | {"scope": "trade"}).shock[0]).onset
    double = compile_shock(scenario(fields | {"scope": "trade", "intensity": 2.0}).shock[0]).onset
    one, two = single.decision[0].option[1], double.decision[0].option[1]  # comply_without_joining
    assert two.approval["USA"] == pytest.approx(2 * one.approval["USA"])
    assert double.decision[0].option[0].approval["USA"] == 1.0  # 0.8 * 2 clipped
    assert double.effects[0].delta == pytest.approx(2 * single.effects[0].delta)


def test_fixed_stakes_do_not_grow_with_intensity():
    """The penalty of circumvention scales; its trade gain and Russia's gratitude do not."""
    fields = {"kind": "sanctions", "imposer": "USA", "target": "RUS", "secondary": ["KAZ"]}
    by_intensity = {
        x: compile_shock(scenario(fields | {"scope": "trade", "intensity": x}).shock[0]).onset
        for x in (0.0, 1.0, 2.0)
    }
    circumvent = {x: e.decision[0].option[2] for x, e in by_intensity.items()}
    assert [circumvent[x].material for x in (0.0, 1.0, 2.0)] == pytest.approx([0.2, -0.3, -0.8])
    assert {circumvent[x].approval["RUS"] for x in circumvent} == {0.6}
    assert [circumvent[x].approval["USA"] for x in (0.0, 1.0)] == pytest.approx([0.0, -0.8])
    join = {x: e.decision[0].option[0] for x, e in by_intensity.items()}
    assert {join[x].material for x in join} == {-0.5}


def test_monthly_stakes_are_weighed_over_the_duration():
    """Waiting out a blockade costs its monthly loss times the months it is set to last."""
    fields = {k: v for k, v in EXAMPLES["transit_restriction"].items() if k != "duration_months"}
    options = {}
    for months in (1, 6):
        shock = scenario({"kind": "transit_restriction", **fields, "duration_months": months})
        options[months] = {
            o.name: o for o in compile_shock(shock.shock[0]).onset.decision[0].option
        }
    assert options[1]["seek_exemption"].material == pytest.approx(-0.05)
    assert options[6]["seek_exemption"].material == pytest.approx(-0.30)
    assert options[6]["reroute"].material == pytest.approx(-0.15 - 0.12)


def test_for_each_role_poses_one_decision_per_actor():
    """A list role repeats its decisions for each actor, conditioned on that actor's choice."""
    shock = scenario(
        {"kind": "sanctions", "imposer": "USA", "target": "RUS", "secondary": ["KAZ", "CHN"]}
    ).shock[0]
    names = [d.name for d in compile_shock(shock).onset.decision]
    assert names == ["compliance-kaz", "compliance-chn", "penalty-kaz", "penalty-chn"]
    penalty = compile_shock(shock).onset.decision[3]
    assert penalty.when.decision == "compliance-chn" and penalty.when.actor == "CHN"


def test_paired_runs_are_identical_before_the_shock_and_drift_after(history):
    """Common random numbers: zero drift before the shock, non-zero where it touches KAZ."""
    shocked = history.model_copy(
        update={
            "shock": scenario(
                {"kind": "transit_restriction", **EXAMPLES["transit_restriction"]},
            ).shock
        }
    )
    paired = compare(
        history,
        shocked,
        baseline_file=ROOT / "scenarios/history_2014_2026.toml",
        scenario_file=ROOT / "scenarios/history_2014_2026.toml",
        replicates=30,
        seed=3,
    )
    drift = paired.drift()
    months = np.array(paired.months)
    before = months < parse_month("2024-06")
    assert np.array_equal(drift[before], np.zeros_like(drift[before]))
    assert np.abs(drift[~before, :, 0]).max() > 0.01  # toward Russia
    summary = drift_summary(paired)
    assert summary["drift_by_year"][-1]["RUS"]["median"] < 0
    assert summary["scenario_decisions"][0]["decision"] == "s0/response"


def test_hazard_fires_at_its_rate_and_at_most_once():
    """A monthly hazard fires in 1-(1-h)^n of replicates over n months, once each."""
    hazard, months = 0.05, 12
    spec = scenario(
        {
            "kind": "protest",
            "country": "KAZ",
            "against": "RUS",
            "hazard": hazard,
            "until": "2025-05",
        }
    )
    model = MultivectorModel(spec, replicates=4000).run()
    fired = model.fired["s0"].mean()
    expected = 1 - (1 - hazard) ** months
    assert abs(fired - expected) < 4 * math.sqrt(expected * (1 - expected) / 4000)
    posed = [
        r.posed for r in model.recorder.decisions if r.decision.key == "s0/government-response"
    ]
    assert len(posed) == months
    assert np.array_equal(np.sum(posed, axis=0), model.fired["s0"].astype(int))


def test_probability_shock_fires_in_its_share_of_replicates():
    """A shock with a probability happens at its date in about that share of replicates."""
    spec = scenario({"kind": "protest", "country": "KAZ", "against": "RUS", "probability": 0.3})
    model = MultivectorModel(spec, replicates=4000).run()
    assert abs(model.fired["s0"].mean() - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 4000)


def test_stochastic_shocks_give_the_same_replicate_alone_or_in_a_batch():
    """A replicate's shocks and choices do not depend on the batch it runs in."""
    spec = scenario(
        {"kind": "protest", "country": "KAZ", "against": "RUS", "hazard": 0.2},
        {"kind": "media_campaign", **EXAMPLES["media_campaign"], "probability": 0.5},
    )
    batch = MultivectorModel(spec, replicate_ids=np.arange(40)).run()
    for k in (3, 17, 39):
        alone = MultivectorModel(spec, replicate_ids=np.array([k])).run()
        assert alone.fired["s0"][0] == batch.fired["s0"][k]
        assert np.abs(alone.world.relation[0] - batch.world.relation[k]).max() < 1e-12


def test_duration_keeps_acting_until_the_shock_ends():
    """A longer campaign leaves Kazakhstan's public cooler toward the source."""
    fields = {"kind": "media_campaign", "source": "RUS", "target": "KAZ"}
    short = MultivectorModel(scenario(fields | {"duration_months": 1}), replicates=50).run()
    long = MultivectorModel(scenario(fields | {"duration_months": 12}), replicates=50).run()
    assert (long.world.mood[:, KAZ, RUS] < short.world.mood[:, KAZ, RUS] - 1e-6).all()


def test_start_from_record_begins_where_the_replay_ends():
    """start_from = "record" starts from the replayed record's state in every replicate."""
    spec = scenario(start="2023-01", end="2023-12", start_from="record", shock=[])
    model = MultivectorModel(spec, replicates=3)
    warm_up = spec.model_copy(
        update={"start": "2014-01", "end": "2022-12", "start_from": "structural"}
    )
    replay = MultivectorModel(warm_up, replicates=1, replay=True).run()
    for r in range(3):
        assert np.array_equal(model.world.relation[r], replay.world.relation[0])
        assert np.array_equal(model.world.dependence_shift[r], replay.world.dependence_shift[0])
    structural = MultivectorModel(
        spec.model_copy(update={"start_from": "structural"}), replicates=1
    )
    assert not np.allclose(structural.world.relation[0], model.world.relation[0])


def test_overrides_and_dropped_ties_change_the_model():
    """Parameter overrides reach the weights; a dropped tie changes the structure."""
    spec = scenario(shock=[], overrides={"weights.autonomy": 2.5, "actor.RUS.material": 1.7})
    parameters = scenario_parameters(spec)
    assert parameters.weights[INDEX["CHN"], 3] == 2.5
    assert parameters.weights[RUS, 5] == 1.7
    assert parameters.sha256 != scenario_parameters(scenario(shock=[])).sha256
    conflict = {"kind": "armed_conflict", "actors": ["RUS", "UKR"], "start": "2014-02-27"}
    span = {"start": "2015-01", "end": "2015-12", "shock": []}
    plain = MultivectorModel(scenario(**span), replicates=1)
    dropped = MultivectorModel(scenario(**span, record={"drop_ties": [conflict]}), replicates=1)
    ukr = INDEX["UKR"]
    assert dropped.baseline_now()[RUS, ukr] > plain.baseline_now()[RUS, ukr] + 0.1


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_asks_its_question_and_moves_kazakhstan(path, tmp_path):
    """Each shipped scenario opens with its question and shifts Kazakhstan's alignment."""
    assert path.read_text().startswith("# What if")
    spec = load_scenario(path)
    paired = compare(
        load_scenario(ROOT / "scenarios/history_2014_2026.toml"),
        spec,
        baseline_file=ROOT / "scenarios/history_2014_2026.toml",
        scenario_file=path,
        replicates=40,
        seed=7,
    )
    drift = paired.drift()
    first = min(e.month for e in paired.events())
    before = np.array(paired.months) < first
    assert np.abs(drift[before]).max(initial=0.0) == 0.0
    assert np.abs(np.median(drift[~before], axis=1)).max() > 0.005


def test_shipped_scenarios_cover_the_brief():
    """At least eight scenarios besides the history."""
    assert len(SCENARIOS) >= 8


def test_compare_command_writes_drift_files(tmp_path):
    """`multivector compare` writes drift.json and drift.png and prints the JSON."""
    result = CliRunner().invoke(
        app,
        [
            "compare",
            str(ROOT / "scenarios/history_2014_2026.toml"),
            str(ROOT / "scenarios/us_secondary_sanctions_2023.toml"),
            "--replicates",
            "20",
            "--seed",
            "2",
            "--out",
            str(tmp_path),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    folder = tmp_path / "us_secondary_sanctions_2023"
    assert json.loads((folder / "drift.json").read_text()) == printed
    assert (folder / "drift.png").stat().st_size > 20_000
    assert printed["replicates"] == 20 and printed["seed"] == 2
    assert printed["events"][0]["month"] == "2023-03"
    assert printed["scenario"]["shocks"][0]["kind"] == "sanctions"
    assert printed["drift_by_year"][0]["RUS"]["share_changed"] == 0.0
