"""`multivector predict VOTES.csv`: a votes file is forecast, scored, and may reach past 2024."""

import csv
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from multivector.actors import ACTORS
from multivector.cli.commands import app
from multivector.inputs.parameters import load_parameters
from tests.conftest import SHARED_VOTES, write_vote_rows

OPTIONS = {"yes", "no", "abstain"}
CODES = {"Y": "yes", "N": "no", "A": "abstain"}
ROTATE = {"Y": "N", "N": "A", "A": "Y", "X": "Y", "": "N"}


def run(*args: str) -> tuple[int, str, str]:
    """Exit code, standard output, and all output (with any uncaught exception)."""
    result = CliRunner().invoke(app, ["predict", *args])
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nuncaught: {result.exception!r}"
    return result.exit_code, result.stdout, output


def forecast(path: Path, *options: str) -> dict:
    code, stdout, output = run(str(path), "--json", *options)
    assert code == 0, output
    return json.loads(stdout)


def by_key(decisions: list[dict]) -> dict[tuple[str, str], dict[str, float]]:
    return {(d["source_id"], d["decider"]): d["probabilities"] for d in decisions}


@pytest.fixture(scope="module")
def sample() -> tuple[list[str], list[dict[str, str]]]:
    """Six 2024 rows of the shared file in which all six states' votes are recorded."""
    with SHARED_VOTES.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = [
            r for r in reader if r["date"].startswith("2024") and all(r[a] in CODES for a in ACTORS)
        ][:6]
    assert len(rows) == 6
    return fields, rows


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("predict-votes")


@pytest.fixture(scope="module")
def rows_file(sample, folder) -> Path:
    return write_vote_rows(folder / "rows.csv", *sample)


@pytest.fixture(scope="module")
def plain(rows_file) -> dict:
    return forecast(rows_file, "--draws", "0")


def _with_states(sample, edit) -> tuple[list[str], list[dict[str, str]]]:
    fields, rows = sample
    return fields, [{**r, **{a: edit(r[a]) for a in ACTORS}} for r in rows]


def test_every_row_is_forecast_for_each_of_the_six(sample, plain):
    _, rows = sample
    decisions = plain["decisions"]
    assert len(decisions) == 6 * len(rows)
    for row in rows:
        mine = [d for d in decisions if d.get("source_id") == row["source_id"]]
        assert sorted(d["decider"] for d in mine) == sorted(ACTORS), row["source_id"]
        for d in mine:
            p = d["probabilities"]
            assert set(p) == OPTIONS
            assert all(0.0 <= v <= 1.0 for v in p.values())
            assert sum(p.values()) == pytest.approx(1.0, abs=1e-3)
            assert d["month"] == row["date"][:7]
    assert all("interval_90" not in d for d in decisions)  # no draws, no interval


@pytest.fixture(scope="module")
def pairs(folder) -> tuple[list[str], list[dict[str, str]]]:
    """The 2023 and 2024 rows of three yearly texts: were a file's votes imposed, the earlier
    of each pair would move the later through the consistency term."""
    titles = (
        "refugees from Abkhazia",
        "embargo imposed by the United States of America against Cuba",
        "Combating glorification of Nazism",
    )
    with SHARED_VOTES.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = [
            r
            for r in reader
            if r["date"][:4] in ("2023", "2024")
            and any(t in r["title_or_description"] for t in titles)
        ]
    assert len(rows) == 6
    return fields, rows


@pytest.fixture(scope="module")
def pairs_forecast(pairs, folder) -> dict:
    return forecast(write_vote_rows(folder / "pairs.csv", *pairs), "--draws", "0")


@pytest.mark.parametrize("edit", [lambda _: "", ROTATE.__getitem__], ids=["blank", "changed"])
def test_the_state_columns_do_not_enter_the_forecast(pairs, pairs_forecast, folder, edit):
    recorded = pairs_forecast
    other = write_vote_rows(folder / "states.csv", *_with_states(pairs, edit))
    assert by_key(forecast(other, "--draws", "0")["decisions"]) == by_key(recorded["decisions"])


@pytest.fixture(scope="module")
def scored(rows_file) -> dict:
    return forecast(rows_file, "--draws", "0", "--score")


def test_score_reports_the_model_beside_the_baselines_per_actor(sample, scored):
    by_actor = scored["score"]["by_actor"]
    assert set(by_actor) == set(ACTORS)
    for actor in ACTORS:
        figures = by_actor[actor]
        assert figures["choices"] == 6
        for name in ("model", "persistence", "frequency", "uniform"):
            assert set(figures[name]) >= {"log_loss", "brier", "accuracy"}, (actor, name)
            assert figures[name]["log_loss"] >= 0.0
        # a uniform forecast over three options: log-loss ln 3, Brier (2/3)^2 + 2 (1/3)^2
        assert figures["uniform"]["log_loss"] == pytest.approx(math.log(3), abs=1e-4)
        assert figures["uniform"]["brier"] == pytest.approx(2 / 3, abs=1e-4)


def test_score_scores_the_printed_forecast_against_the_files_votes(sample, scored):
    _, rows = sample
    probabilities = by_key(scored["decisions"])
    for actor in ACTORS:
        brier = [
            sum(
                (probabilities[r["source_id"], actor][o] - (o == CODES[r[actor]])) ** 2
                for o in OPTIONS
            )
            for r in rows
        ]
        expected = sum(brier) / len(brier)
        assert scored["score"]["by_actor"][actor]["model"]["brier"] == pytest.approx(
            expected, abs=2e-3
        ), actor


def test_score_without_recorded_votes_fails_in_one_line(sample, folder):
    blank = write_vote_rows(folder / "blank.csv", *_with_states(sample, lambda _: ""))
    code, _, output = run(str(blank), "--json", "--draws", "0", "--score")
    assert code == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output and blank.name in lines[0]


def test_draws_give_a_90_percent_interval_around_the_point(rows_file):
    out = forecast(rows_file, "--draws", "20")
    decisions = out["decisions"]
    if load_parameters().spec.calibration is None:
        assert all("interval_90" not in d for d in decisions)
        return
    assert out["draws"] == 20
    widths = []
    for d in decisions:
        interval = d["interval_90"]
        assert set(interval) == set(d["probabilities"])
        for option, p in d["probabilities"].items():
            low, high = interval[option]
            assert low <= p <= high, (d["source_id"], d["decider"], option)
            widths.append(high - low)
    assert max(widths) > 0.0  # the draws differ from one another


def test_a_vote_after_the_record_is_forecast(sample, folder):
    fields, rows = sample
    made_up = {
        **rows[0],
        "date": "2025-03-01",
        "source_id": "test:2025-03-01",
        "resolution": "",
        **{a: "" for a in ACTORS},
    }
    path = write_vote_rows(folder / "later.csv", fields, [made_up])
    decisions = forecast(path, "--draws", "0")["decisions"]
    assert sorted(d["decider"] for d in decisions) == sorted(ACTORS)
    for d in decisions:
        assert d["source_id"] == "test:2025-03-01" and d["month"] == "2025-03"
        assert sum(d["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_a_calibration_for_another_design_fails_in_one_line(rows_file, tmp_path):
    """Drawing from a calibration whose free parameters are not the design's (a file fitted
    before a term was added) is refused in one line, not mapped onto the wrong parameters."""
    import tomllib

    import tomli_w

    from multivector.inputs.parameters import CALIBRATED

    data = tomllib.loads(CALIBRATED.read_text())
    calibration = data["calibration"]
    calibration["free"] = calibration["free"][:-1]
    calibration["estimate"] = calibration["estimate"][:-1]
    calibration["covariance"] = [row[:-1] for row in calibration["covariance"][:-1]]
    stale = tmp_path / "stale.toml"
    stale.write_text(tomli_w.dumps(data))
    code, _, out = run(str(rows_file), "--parameters", str(stale), "--draws", "5")
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 2, out
    assert len(lines) == 1 and "Traceback" not in out
    assert "stale.toml" in lines[0] and "calibration.free" in lines[0]
    assert "rerun multivector calibrate" in lines[0]
