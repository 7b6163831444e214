"""Hostile input that was answered or crashed, now refused in one line (issue 16).

Each test here failed before its fix: a ``predict`` date past the longest run crashed with a
pydantic traceback, and a votes file's row before 2014 was silently never posed; a scenario could
override the calibration record as if it were a parameter; repeated sponsors, issues and seats
were silently counted once; a vote without ``issues`` was answered; a shock's bad month did not
name ``.date``; and an entry of a scenario's ``episodes`` that is no TOML file named only the
entry, not the scenario. The single-file cases are in the corpus (``tests/malformed/``); here are
the votes files, the entries that need a special file, and the checks behind the messages.

The votes files are written in ``tmp_path`` from the record's header, with obviously synthetic
rows (``synthetic:N``): no UN vote from 2025 on enters the project's data.
"""

import csv
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from multivector.analysis.prediction import load_queries
from multivector.calendar import LAST_MONTH, RECORD_START, parse_month, replay_problem
from multivector.cli.commands import app
from multivector.errors import InputError
from multivector.inputs.parameters import (
    ParameterFile,
    load_parameters,
    overridable,
    override_problem,
    parameter_keyword,
)
from multivector.inputs.schema import validate
from multivector.inputs.votes import RECORD_FILE, FamilyFile
from tests.conftest import write_vote_rows
from tests.test_malformed import assert_rejected

runner = CliRunner()
SCENARIO = """
name = "refusals"
question = "Is this scenario refused before any work?"
start = "2025-01"
end = "2025-06"
replicates = 2
"""


def header() -> list[str]:
    """The columns of the shipped record, as a user's votes file copies them."""
    with RECORD_FILE.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def synthetic_votes(tmp_path: Path, *dates: str) -> Path:
    """A votes file with one synthetic row per date (no real vote: ``synthetic:N``)."""
    rows = [
        {
            "date": date,
            "session": "99",
            "resolution": "",
            "source_id": f"synthetic:{k}",
            "source": "synthetic test row",
            "vote_kind": "resolution/whole",
            "title_or_description": "Synthetic test resolution (not a UN vote)",
        }
        for k, date in enumerate(dates, start=1)
    ]
    return write_vote_rows(tmp_path / "votes.csv", header(), rows)


def vote_query(tmp_path: Path, date: str) -> Path:
    """A TOML file asking about one General Assembly vote at ``date``."""
    path = tmp_path / "queries.toml"
    path.write_text(
        f'[[episode]]\nbody = "UNGA"\ndate = "{date}"\nsponsors = ["UKR"]\n'
        'issues = ["territorial_integrity"]\n',
        encoding="utf-8",
    )
    return path


def run_scenario_text(tmp_path: Path, extra: str) -> tuple[Path, Path, object]:
    """Run a scenario written in ``tmp_path``: its path, its output folder, the result."""
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO + extra, encoding="utf-8")
    out = tmp_path / "out"
    return scenario, out, runner.invoke(app, ["run", str(scenario), "--out", str(out)])


# --- 1. predict's dates: from the record's start to the last month the model can run to --------


def test_the_last_month_is_the_longest_run_from_the_record_start():
    assert LAST_MONTH == "2074-01"
    assert replay_problem(LAST_MONTH) is None and replay_problem(RECORD_START) is None
    assert replay_problem("2074-01-31") is None
    assert "after the last month the model can run to, 2074-01" in str(replay_problem("2074-02"))
    assert "before 2014-01" in str(replay_problem("2013-12-31"))


def test_a_toml_query_after_the_last_month_is_one_line(tmp_path):
    path = vote_query(tmp_path, "2074-05")
    result = runner.invoke(app, ["predict", str(path), "--draws", "0"])
    assert_rejected(result, path, "episode[0](query-1).date: 2074-05 is after the last month")


def test_a_toml_query_at_the_last_month_is_read(tmp_path):
    (episode,) = load_queries(vote_query(tmp_path, "2074-01-31"))
    assert parse_month(episode.date) == parse_month(LAST_MONTH)


def test_a_votes_row_after_the_last_month_is_one_line(tmp_path):
    path = synthetic_votes(tmp_path, "2025-03-01", "2074-05-01")
    result = runner.invoke(app, ["predict", str(path), "--draws", "0"])
    assert_rejected(
        result,
        path,
        "line 3 (synthetic:2).date: 2074-05-01 is after the last month the model can run to",
    )


def test_a_votes_row_before_the_record_is_one_line(tmp_path):
    """Before the fix the row was never posed: an empty table, exit 0."""
    path = synthetic_votes(tmp_path, "2013-05-01")
    result = runner.invoke(app, ["predict", str(path), "--draws", "0"])
    assert_rejected(result, path, "line 2 (synthetic:1).date: 2013-05-01 is before 2014-01")


def test_a_votes_row_in_the_last_month_is_forecast(tmp_path):
    """The boundary itself runs: the replay from 2014-01 reaches 2074-01 (60 years)."""
    path = synthetic_votes(tmp_path, "2074-01-31")
    result = runner.invoke(app, ["predict", str(path), "--draws", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert '"month": "2074-01"' in result.stdout


# --- 2. overrides: only the parameter file's numbers -----------------------------------------


def test_the_calibration_record_is_not_overridable(tmp_path):
    scenario, out, result = run_scenario_text(
        tmp_path, '[overrides]\n"calibration.decisions" = 5\n'
    )
    assert_rejected(result, scenario, 'overrides."calibration.decisions": not a parameter')
    assert not out.exists()


def test_with_values_refuses_what_is_not_a_parameter():
    parameters = load_parameters()
    for name in ("calibration.decisions", "calibration.method", "description", "weights"):
        with pytest.raises(InputError, match="^.*: not a parameter; an override sets a number"):
            parameters.with_values(**{parameter_keyword(name): 1})
    for name in ("dynamics.speed", "actor.GBR.autonomy"):
        with pytest.raises(InputError, match="unknown field"):
            parameters.with_values(**{parameter_keyword(name): 1})
    with pytest.raises(InputError, match="not a parameter$"):  # runs on through a number
        parameters.with_values(choice__precision__x=1)
    assert override_problem("weights.autonomi") == "unknown field; did you mean 'weights.autonomy'?"


def test_every_overridable_name_takes_its_own_value():
    """The list is not too narrow: each number of the parameter tables can be set."""
    parameters = load_parameters()
    data = parameters.spec.model_dump()
    names = overridable()
    assert {"choice.precision", "dynamics.response", "actor.KAZ.autonomy"} <= set(names)
    assert not [n for n in names if n.startswith(("calibration.", "description"))]
    for name in names:
        node = data
        for key in name.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        value = 1.0 if node is None else node  # an actor's unset weight: any valid number
        if name == "choice.equilibrium_max_iterations":
            value = int(value)
        changed = parameters.with_values(**{parameter_keyword(name): value})
        assert isinstance(changed.spec, ParameterFile)


# --- 3. lists that name an actor (or an issue) twice -----------------------------------------


def test_a_family_sponsor_listed_twice_is_refused(tmp_path):
    family = {
        "name": "synthetic",
        "match": ["synthetic"],
        "sponsors": ["RUS", "RUS"],
        "source": "test",
        "why": "test",
    }
    with pytest.raises(InputError, match=r"family\[0\]\(synthetic\)\.sponsors"):
        validate(tmp_path / "families.toml", {"family": [family]}, FamilyFile)


# --- 4. a vote without issues ------------------------------------------------------------------


def test_a_vote_without_issues_is_not_answered(tmp_path):
    path = tmp_path / "queries.toml"
    path.write_text('[[episode]]\nbody = "UNGA"\ndate = "2025-02"\nsponsors = ["UKR"]\n')
    result = runner.invoke(app, ["predict", str(path), "--draws", "0"])
    assert_rejected(result, path, "episode[0](query-1).issues: missing required field")


def test_a_vote_with_issues_given_as_none_is_answered(tmp_path):
    path = tmp_path / "queries.toml"
    path.write_text('[[episode]]\nbody = "UNGA"\ndate = "2025-02"\nsponsors = []\nissues = []\n')
    (episode,) = load_queries(path)
    assert episode.issues == [] and episode.sponsors == []


# --- 6. a scenario's episodes entry that is no episode file ------------------------------------


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="needs /etc/passwd")
def test_etc_passwd_as_an_episode_file_names_the_scenario(tmp_path):
    scenario, out, result = run_scenario_text(tmp_path, 'episodes = ["/etc/passwd"]\n')
    assert_rejected(result, scenario, "episodes[0]: /etc/passwd: TOML syntax error")
    assert not out.exists()


def test_a_fifo_as_an_episode_file_names_the_scenario(tmp_path):
    os.mkfifo(tmp_path / "pipe.toml")
    scenario, out, result = run_scenario_text(tmp_path, 'episodes = ["pipe.toml"]\n')
    assert_rejected(result, scenario, "pipe.toml: is not a regular file")
    assert not out.exists()


def test_an_unreadable_episode_file_names_the_scenario(tmp_path, monkeypatch):
    locked = tmp_path / "locked.toml"
    locked.write_text('[[episode]]\nid = "x"\n')
    real_open = os.open

    def refuse(path, *args, **kwargs):
        # as chmod 0 would for any user but root (the tests may run as root, who reads anyway)
        if Path(path).name == "locked.toml":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    scenario, out, result = run_scenario_text(tmp_path, 'episodes = ["locked.toml"]\n')
    assert_rejected(result, scenario, "locked.toml: cannot be read")


def test_a_parameters_entry_that_is_not_toml_names_the_scenario(tmp_path):
    (tmp_path / "params.toml").write_text("not = toml = at all\n")
    scenario, out, result = run_scenario_text(tmp_path, 'parameters = "params.toml"\n')
    assert_rejected(result, scenario, "parameters: ")
    assert "params.toml: TOML syntax error" in result.stderr


def test_a_nul_in_an_entry_names_the_scenario(tmp_path):
    scenario, out, result = run_scenario_text(tmp_path, 'episodes = ["a\\u0000b.toml"]\n')
    assert_rejected(result, scenario, "episodes[0]: contains a NUL character")


def test_a_problem_inside_a_readable_episode_file_names_that_file(tmp_path):
    episodes = tmp_path / "extra.toml"
    episodes.write_text('[[episode]]\nid = "x"\n')
    _, out, result = run_scenario_text(tmp_path, 'episodes = ["extra.toml"]\n')
    assert_rejected(result, episodes, "episode[0](x)")
