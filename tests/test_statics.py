"""Comparative statics: every row of experiments/statics.toml holds on paired runs."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from multivector.analysis.statics import choice_outcome, measure_row
from multivector.cli.commands import app
from multivector.inputs import shocks
from multivector.inputs.shocks import SHOCK_KINDS
from multivector.inputs.statics import load_statics
from multivector.runs.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
STATICS = ROOT / "experiments" / "statics.toml"
LOADED = load_statics(STATICS)
RUNS: dict = {}  # runs shared by the rows of one scenario and lever


def test_the_table_covers_every_shock_kind_with_sources():
    rows = LOADED.spec.row
    assert len(rows) >= 15
    assert set(SHOCK_KINDS) <= {row.kind for row in rows}
    assert all(row.source.strip() and row.mechanism.strip() for row in rows)


@pytest.mark.parametrize("row", LOADED.spec.row, ids=lambda row: row.id)
def test_the_lever_moves_its_outcome_as_the_table_says(row):
    measured = measure_row(LOADED, row, cache=RUNS)
    report = measured.as_dict(LOADED)
    assert measured.passed, (
        f"{row.id}: {row.label} {row.values} -> {report['measured']} "
        f"(change {report['change']:+.4f}, expected {row.expect} by >= {row.min_change})"
    )
    assert min(report["posed_share"]) > 0.1  # measured where the decision is actually posed


def test_a_disconnected_lever_fails_its_row(monkeypatch):
    """With intensity cut out of the templates, the sanctions row no longer holds."""
    row = next(r for r in LOADED.spec.row if r.id == "sanctions-intensity-circumvention")
    monkeypatch.setattr(
        shocks._Binder, "scaled", lambda self, value, fixed=0.0: max(-1.0, min(1.0, value + fixed))
    )
    shocks._compile.cache_clear()
    try:
        measured = measure_row(LOADED, row, replicates=50)
    finally:
        monkeypatch.undo()
        shocks._compile.cache_clear()
    assert not measured.passed
    assert measured.change == pytest.approx(0.0, abs=1e-12)


def test_the_middle_path_stays_the_likely_answer_at_documented_intensities():
    """At the documented pressure and half again, complying without joining is the mode."""
    row = next(r for r in LOADED.spec.row if r.id == "sanctions-intensity-compliance")
    for value in (1.0, 1.5):
        scenario, parameters = LOADED.lever_at(row, value)
        run = run_scenario(scenario, replicates=100, seed=3, parameters=parameters)
        probabilities = {}
        for option in ("join", "comply_without_joining", "help_circumvent"):
            asked = row.choice.model_copy(update={"option": option})
            probabilities[option] = choice_outcome(run, row.model_copy(update={"choice": asked}))[0]
        assert max(probabilities, key=probabilities.get) == "comply_without_joining", probabilities
        assert probabilities["comply_without_joining"] > 0.5


def test_the_statics_command_prints_the_table_and_json():
    runner = CliRunner()
    only = ["--only", "venue-pressure-rebuff", "--replicates", "30"]
    table = runner.invoke(app, ["statics", str(STATICS), *only])
    assert table.exit_code == 0, table.output
    assert "1 of 1 rows hold" in table.output
    printed = runner.invoke(app, ["statics", str(STATICS), *only, "--json"])
    assert printed.exit_code == 0
    assert '"passed": 1' in printed.output and '"scenario_sha256"' in printed.output


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (
            ('lever = "shock.us-secondary-2023.intensity"', 'lever = "shock.nobody.intensity"'),
            "row[0](sanctions-intensity-circumvention).lever",
        ),
        (
            ("values = [0.0, 1.0, 2.0]", "values = [0.0, 1.0, 9.0]"),
            "row[0](sanctions-intensity-circumvention).lever",
        ),
        (
            ('option = "help_circumvent"', 'option = "help_evade"'),
            "row[0](sanctions-intensity-circumvention).choice.option",
        ),
        (
            ('month = "2023-06"', 'month = "2031-06"'),
            "row[2](russian-pressure-alignment).state.month",
        ),
        (
            ("min_change = 0.05", "min_change = 0.0"),
            "row[2](russian-pressure-alignment).min_change",
        ),
    ],
)
def test_a_bad_row_is_one_line_naming_the_field(tmp_path, edit, field):
    text = STATICS.read_text().replace(*edit, 1)
    text = text.replace('"../scenarios/', f'"{ROOT}/scenarios/')
    bad = tmp_path / "statics.toml"
    bad.write_text(text)
    result = CliRunner().invoke(app, ["statics", str(bad)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], result.output
