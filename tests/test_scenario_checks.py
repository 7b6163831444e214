"""What ``load_scenario`` checks beyond the schema, on small files written for each case: the
exact file, field and problem it reports, and the boundary cases it must accept."""

import hashlib
from pathlib import Path

import pytest

import multivector.inputs.scenario as scenario_module
from multivector.calendar import RECORD_END, RECORD_START
from multivector.errors import InputError
from multivector.inputs.parameters import DOCUMENTED_DEFAULTS
from multivector.inputs.scenario import (
    Scenario,
    default_scenario,
    load_scenario,
    scenario_parameters,
)
from tests.conftest import HISTORY

HEAD = 'name = "checks"\nquestion = "q"\nstart = "2025-01"\nend = "2026-12"\n'
EAEU = '{ kind = "eaeu", actors = ["KAZ", "RUS", "BLR"], start = "2015-01-01" }'
SANCTIONS = (
    '[[shock]]\nkind = "sanctions"\nname = "s"\nimposer = "USA"\ntarget = "RUS"\n'
    'secondary = ["KAZ"]\n'
)


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + text, encoding="utf-8")
    return path


def rejected(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    assert caught.value.path == str(path)
    return caught.value


# --- record.drop_ties ---------------------------------------------------------------------


def test_a_tie_of_the_structure_file_can_be_dropped(tmp_path):
    path = write(tmp_path, f"[record]\ndrop_ties = [{EAEU}]\n")
    scenario = load_scenario(path)
    [tie] = scenario.record.drop_ties
    assert tie.key() == ("eaeu", ("KAZ", "RUS", "BLR"), 2015 * 12)


def test_an_unknown_tie_is_named_by_position_kind_actors_and_month(tmp_path):
    wrong = '{ kind = "eaeu", actors = ["KAZ", "RUS"], start = "2015-01-01" }'
    path = write(tmp_path, f"[record]\ndrop_ties = [{EAEU}, {wrong}]\n")
    error = rejected(path)
    assert error.field == "record.drop_ties[1]"
    assert error.problem == "no eaeu tie of KAZ+RUS starting 2015-01 in structure/ties.toml"


def test_a_tie_must_match_its_start_month(tmp_path):
    moved = '{ kind = "eaeu", actors = ["KAZ", "RUS", "BLR"], start = "2015-02-01" }'
    error = rejected(write(tmp_path, f"[record]\ndrop_ties = [{moved}]\n"))
    assert error.field == "record.drop_ties[0]"
    assert "KAZ+RUS+BLR starting 2015-02 " in error.problem


# --- shocks ---------------------------------------------------------------------------------


def test_shocks_on_the_first_and_last_month_of_the_span_are_accepted(tmp_path):
    first = SANCTIONS + 'date = "2025-01"\n'
    last = SANCTIONS.replace('"s"', '"t"') + 'date = "2026-12"\n'
    hazard = SANCTIONS.replace('"s"', '"h"') + 'date = "2025-01"\nhazard = 0.1\nuntil = "2026-12"\n'
    open_ended = SANCTIONS.replace('"s"', '"o"') + 'date = "2025-03"\nhazard = 0.1\n'
    scenario = load_scenario(write(tmp_path, first + last + hazard + open_ended))
    assert [s.name for s in scenario.shock] == ["s", "t", "h", "o"]


@pytest.mark.parametrize(
    ("extra", "field", "month"),
    [
        ('date = "2024-12"\n', "date", "2024-12"),
        ('date = "2027-01"\n', "date", "2027-01"),
        ('date = "2025-06"\nhazard = 0.1\nuntil = "2027-01"\n', "until", "2027-01"),
    ],
)
def test_a_shock_outside_the_span_names_the_month_and_the_span(tmp_path, extra, field, month):
    error = rejected(write(tmp_path, SANCTIONS + extra))
    assert error.field == f"shock[0](s).{field}"
    assert error.problem == f"{month} is outside the scenario's span 2025-01 to 2026-12"


def test_a_shock_that_cannot_be_compiled_is_reported_on_one_line(tmp_path, monkeypatch):
    def failing(shock):
        raise ValueError("first line\nsecond line")

    monkeypatch.setattr(scenario_module, "compile_shock", failing)
    error = rejected(write(tmp_path, SANCTIONS + 'date = "2025-06"\n'))
    assert error.field == "shock[0](s)"
    assert error.problem == "cannot be compiled: first line second line"


# --- paths and parameters -------------------------------------------------------------------


def parameter_file(tmp_path: Path, precision: float) -> Path:
    text = DOCUMENTED_DEFAULTS.read_text(encoding="utf-8")
    assert "\nprecision = 3.0\n" in text
    path = tmp_path / "params.toml"
    path.write_text(text.replace("\nprecision = 3.0\n", f"\nprecision = {precision}\n"), "utf-8")
    return path


def test_the_parameter_file_is_resolved_next_to_the_scenario_and_used(tmp_path, monkeypatch):
    parameter_file(tmp_path, 3.7)
    path = write(tmp_path, 'parameters = "params.toml"\n')
    monkeypatch.chdir(Path(__file__).resolve().parent)  # not the scenario's folder
    scenario = load_scenario(path)
    assert scenario.parameters == str(tmp_path / "params.toml")
    assert scenario_parameters(scenario).spec.choice.precision == 3.7


def test_dotted_overrides_are_applied(tmp_path):
    parameter_file(tmp_path, 3.7)
    path = write(
        tmp_path,
        'parameters = "params.toml"\n[overrides]\n"weights.autonomy" = 1.25\n',
    )
    parameters = scenario_parameters(load_scenario(path))
    assert parameters.spec.weights.autonomy == 1.25
    assert parameters.spec.choice.precision == 3.7


@pytest.mark.parametrize("field", ["parameters", "episodes"])
def test_a_directory_named_as_a_file_is_reported_on_its_field(tmp_path, field):
    value = '"."' if field == "parameters" else '["s.toml", "."]'
    error = rejected(write(tmp_path, f"{field} = {value}\n"))
    assert error.field == ("parameters" if field == "parameters" else "episodes[1]")
    assert error.problem == f"{tmp_path / '.'} is a directory, not a file"


def test_a_missing_parameter_file_is_reported_on_its_field(tmp_path):
    error = rejected(write(tmp_path, 'parameters = "nowhere.toml"\n'))
    assert error.field == "parameters"
    assert error.problem == f"no such file: {tmp_path / 'nowhere.toml'}"


def test_an_override_through_a_number_is_not_a_parameter(tmp_path):
    error = rejected(write(tmp_path, '[overrides]\n"choice.precision.x" = 1\n'))
    assert error.field == 'overrides."choice.precision.x"'
    assert error.problem == "not a parameter"


def test_the_default_scenario_is_the_documented_record():
    """The record's name and span as the history scenario file gives them; the seed is the
    schema's default (the file picks its own)."""
    scenario = default_scenario()
    history = load_scenario(HISTORY)
    assert (scenario.name, scenario.start, scenario.end) == (history.name, "2014-01", "2026-03")
    assert (history.start, history.end) == (RECORD_START, RECORD_END)
    assert scenario.seed == Scenario.model_fields["seed"].default == 0
    assert "Kazakhstan" in scenario.question


def test_a_loaded_scenario_records_the_file_and_the_hash_of_the_bytes_parsed(tmp_path):
    path = write(tmp_path, "")
    scenario = load_scenario(path)
    assert scenario.source is not None
    assert scenario.source.file == str(path)
    assert scenario.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    # a copy keeps it: provenance reads the source of the scenario that ran
    assert scenario.model_copy(update={"seed": 3}).source == scenario.source
