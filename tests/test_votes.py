"""The recorded UN votes: the shipped table loads, bad files fail in one line, votes are posed."""

import csv
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from multivector.actors import ACTORS
from multivector.cli.commands import app
from multivector.errors import InputError
from multivector.inputs.library import load_library
from multivector.inputs.votes import ISSUE_CODES, RECORD_FILE, load_posing, read_votes
from tests.conftest import SHARED_VOTES, write_vote_rows

RECORD_ROWS = 1032
"""The row count ``shared/facts/unga_votes/README.md`` states."""
CODES = {"Y": "yes", "N": "no", "A": "abstain"}
"""The vote codes of the README (X absent or not voting, blank where no names are listed)."""


def raw_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV's header and rows, read with the csv module alone."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def shared() -> tuple[list[str], list[dict[str, str]]]:
    return raw_rows(SHARED_VOTES)


@pytest.fixture(scope="module")
def record():
    return read_votes(RECORD_FILE, record=True)


# --- the shipped record -------------------------------------------------------------------


def test_the_shipped_record_loads_every_row(record):
    _, rows = raw_rows(RECORD_FILE)
    assert len(rows) == RECORD_ROWS
    assert len(record) == RECORD_ROWS
    assert [r.source_id for r in record] == [r["source_id"] for r in rows]


def test_the_library_leaves_to_its_episodes_the_rows_it_documents(record):
    library = load_library()
    documented = {e.resolution for e in library.votes if e.resolution}
    assert documented, "the library documents no UN vote by symbol"
    _, rows = raw_rows(RECORD_FILE)
    held = sum(r["resolution"] in documented for r in rows)
    assert held > 0
    assert len(library.recorded) == RECORD_ROWS - held
    left = [r for r in rows if r["resolution"] not in documented]
    assert [p.row.source_id for p in library.recorded] == [r["source_id"] for r in left]
    assert not any(p.row.resolution in documented for p in library.recorded)


# --- malformed votes files: one line, exit code 2 -------------------------------------------


def _sample(shared):
    fields, rows = shared
    chosen = [dict(r) for r in rows if r["date"].startswith("2024")][:3]
    assert len(chosen) == 3
    return fields, chosen


def _missing_column(fields, rows):
    return [f for f in fields if f != "vote_kind"], rows


def _bad_vote_code(fields, rows):
    rows[1]["KAZ"] = "Q"
    return fields, rows


def _bad_date(fields, rows):
    rows[1]["date"] = "2024-13-01"
    return fields, rows


def _repeated_source_id(fields, rows):
    rows[2]["source_id"] = rows[0]["source_id"]
    return fields, rows


def _header_only(fields, rows):
    return fields, []


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (_missing_column, "vote_kind"),
        (_bad_vote_code, "KAZ"),
        (_bad_date, "date"),
        (_repeated_source_id, "source_id"),
        (_header_only, None),
    ],
    ids=["missing-vote_kind", "KAZ-Q", "month-13", "repeated-source_id", "header-only"],
)
def test_a_malformed_votes_file_fails_in_one_line(shared, tmp_path, edit, field):
    fields, rows = edit(*_sample(shared))
    bad = write_vote_rows(tmp_path / "votes.csv", fields, rows)
    result = CliRunner().invoke(app, ["predict", str(bad)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    assert bad.name in lines[0]
    if field is not None:
        after = lines[0].split(bad.name, 1)[1]
        assert field in after, lines[0]


def test_the_record_refuses_held_back_votes_a_users_file_does_not(shared, tmp_path):
    fields, rows = shared
    rows = [dict(r) for r in rows]
    rows[500]["date"] = "2025-01-15"
    copy = write_vote_rows(tmp_path / "record.csv", fields, rows)
    with pytest.raises(InputError) as refused:
        read_votes(copy, record=True)
    assert "2025" in str(refused.value)
    assert "line 502" in str(refused.value)  # the header is line 1
    accepted = read_votes(copy, record=False)
    assert len(accepted) == len(rows)
    assert accepted[500].date.isoformat() == "2025-01-15"


# --- how a row is posed -------------------------------------------------------------------


def _posed(record, test):
    posing = load_posing()
    found = [posing.pose(r) for r in record if test(r)]
    assert found, "no such row in the record"
    return found


def test_the_crimea_human_rights_text_is_ukraines_against_russia(record):
    title = "Situation of human rights in the temporarily occupied Autonomous Republic of Crimea"
    for posed in _posed(record, lambda r: r.date.year >= 2019 and title in r.title_or_description):
        assert "UKR" in posed.episode.sponsors, posed.row.resolution
        assert posed.episode.target == "RUS", posed.row.resolution


def test_the_cuba_embargo_text_targets_the_united_states(record):
    title = (
        "Necessity of ending the economic, commercial and financial embargo imposed by the "
        "United States of America against Cuba"
    )
    for posed in _posed(record, lambda r: title in r.title_or_description):
        assert posed.episode.target == "USA", posed.row.resolution
        assert "USA" not in posed.episode.sponsors


def test_the_nazism_text_is_russias(record):
    title = "Combating glorification of Nazism"
    for posed in _posed(record, lambda r: title in r.title_or_description):
        assert "RUS" in posed.episode.sponsors, posed.row.resolution
        assert posed.episode.target != "RUS"


def test_the_georgian_displaced_persons_text_targets_russia(record):
    title = "Status of internally displaced persons and refugees from Abkhazia"
    for posed in _posed(record, lambda r: title in r.title_or_description):
        assert posed.episode.target == "RUS", posed.row.resolution
        assert "RUS" not in posed.episode.sponsors


def test_a_vote_no_family_covers_takes_the_tags_of_its_voeten_code(record):
    with ISSUE_CODES.open("rb") as handle:
        rules = tomllib.load(handle)["code"]
    expected = next(rule["issues"] for rule in rules if rule["code"] == "me")
    posing = load_posing()
    uncovered = [r for r in record if "me" in r.issues and posing.family_of(r) is None]
    assert uncovered, "every 'me' row has a family"
    for row in uncovered:
        posed = posing.pose(row)
        assert posed.family == ""
        assert posed.episode.sponsors == [] and posed.episode.target is None
        assert set(expected) <= set(posed.episode.issues), row.source_id


def test_a_row_is_posed_with_its_recorded_votes_only_when_asked(record):
    _, rows = raw_rows(RECORD_FILE)
    posing = load_posing()
    left_out = {"X": 0, "": 0}
    for row, raw in zip(record, rows, strict=True):
        assert posing.pose(row, observed=False).episode.observed == {}
        observed = posing.pose(row).episode.observed
        for actor in ACTORS:
            code = raw[actor]
            if code in CODES:
                assert observed[actor] == CODES[code], (raw["source_id"], actor)
            else:
                left_out[code] += 1
                assert actor not in observed, (raw["source_id"], actor)
    assert left_out["X"] > 0 and left_out[""] > 0  # both cases were met
