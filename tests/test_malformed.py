"""Every malformed input file is rejected before any work: exit 2 and one line naming the problem.

The corpus lives in ``tests/malformed/``: ``scenarios/`` for ``multivector run`` and
``episodes/`` for ``multivector predict`` (and for a scenario's ``episodes = [...]``). Each file
holds one problem and opens with comment lines that say what the error must report:

``# expect: <fragment>``
    Text that must appear in the error's field or problem (after the file's path).
``# reports: <path>``
    The file the error must name, relative to this one (default: this file).
``# only: predict`` or ``# only: library``
    An episode file that only one of the two loaders rejects (the reason follows).

A file with no text at all (or only whitespace) cannot carry comments; it must be reported as
empty.
"""

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from multivector.cli.commands import app
from multivector.errors import InputError
from multivector.inputs.schema import read_toml
from tests.conftest import HISTORY

CORPUS = Path(__file__).resolve().parent / "malformed"
SCENARIOS = sorted((CORPUS / "scenarios").glob("*.toml"))
EPISODES = sorted((CORPUS / "episodes").glob("*.toml"))
EMPTY = "is empty"
runner = CliRunner()


def header(path: Path) -> dict[str, str]:
    """The ``# key: value`` comment lines at the top of a corpus file."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# ") or ":" not in line:
            break
        key, _, value = line[2:].partition(":")
        found[key.strip()] = value.strip()
    return found


def expectation(path: Path) -> str:
    """The fragment the error for a corpus file must contain."""
    if not path.read_text(encoding="utf-8").strip():
        return EMPTY
    return header(path)["expect"]


def reported(path: Path) -> Path:
    """The file the error for a corpus file must name."""
    named = header(path).get("reports")
    return path if named is None else path.parent / named.split()[0]


def assert_rejected(result: Result, named: Path, fragment: str) -> None:
    """Exit 2, no traceback, and one stderr line ``error: <named>: <field>: <problem>``."""
    shown = f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.exit_code == 2, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert result.stdout == "", shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), shown
    assert lines[0].startswith("error: "), shown
    where, _, detail = lines[0].removeprefix("error: ").partition(": ")
    assert Path(where).resolve() == named.resolve(), shown
    assert fragment in detail, f"{fragment!r} not in {detail!r}"


def only(path: Path) -> str | None:
    """The one loader an episode file is meant for (``predict`` or ``library``), if any."""
    value = header(path).get("only")
    return None if value is None else value.split()[0]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_malformed_scenario_is_rejected_by_run(path, tmp_path):
    """``run`` rejects each malformed scenario with one line and writes nothing."""
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    assert_rejected(result, reported(path), expectation(path))
    assert not out.exists()


PREDICTED = [p for p in EPISODES if only(p) != "library"]
LIBRARY = [p for p in EPISODES if only(p) != "predict"]


@pytest.mark.parametrize("path", PREDICTED, ids=[p.name for p in PREDICTED])
def test_malformed_episode_file_is_rejected_by_predict(path):
    """``predict`` rejects each malformed episode file with one line."""
    result = runner.invoke(app, ["predict", str(path), "--draws", "0"])
    assert_rejected(result, path, expectation(path))


def file_level(path: Path) -> bool:
    """Whether an episode file's problem is with the file as a whole (empty, not TOML).

    Such a file is not an episode file at all, so a scenario listing it is at fault: the error
    names the scenario and its ``episodes[k]`` entry, then the file.
    """
    try:
        read_toml(path)
    except InputError as error:
        return not error.field
    return False


@pytest.mark.parametrize("path", LIBRARY, ids=[p.name for p in LIBRARY])
def test_malformed_episode_file_is_rejected_in_a_scenario(path, tmp_path):
    """A scenario naming a malformed episode file is rejected, naming the file to fix.

    A problem inside a readable TOML file names the episode file; a file that is no TOML file
    at all (empty, a syntax error) names the scenario's ``episodes[0]`` and then the file.
    """
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        'name = "with-episodes"\nquestion = "Are the extra episodes valid?"\n'
        f'start = "2025-01"\nend = "2026-12"\nreplicates = 2\nepisodes = ["{path.as_posix()}"]\n'
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    if file_level(path):
        assert_rejected(result, scenario, f"episodes[0]: {path.as_posix()}: ")
        assert expectation(path) in result.stderr
    else:
        assert_rejected(result, path, expectation(path))
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "predict"])
def test_directory_is_rejected(command, tmp_path):
    """A folder given where a file is expected is one line, exit 2."""
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    out = tmp_path / "out"
    args = [command, str(folder)] + (["--out", str(out)] if command == "run" else [])
    assert_rejected(runner.invoke(app, args), folder, "directory")
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "predict"])
def test_missing_file_is_rejected(command, tmp_path):
    """A path that does not exist is one line, exit 2."""
    missing = tmp_path / "absent.toml"
    out = tmp_path / "out"
    args = [command, str(missing)] + (["--out", str(out)] if command == "run" else [])
    assert_rejected(runner.invoke(app, args), missing, "no such file")
    assert not out.exists()


@pytest.mark.parametrize(
    "name", ["syntax_error.toml", "shock_outside_span.toml", "override_out_of_range.toml"]
)
def test_compare_checks_every_scenario_before_running(name, tmp_path):
    """``compare`` loads all scenarios first: a malformed last one stops it before any run."""
    path = CORPUS / "scenarios" / name
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["compare", str(HISTORY), str(HISTORY), str(path), "--out", str(out)]
    )
    assert_rejected(result, path, expectation(path))
    assert not out.exists()


def test_corpus_is_complete():
    """The corpus keeps its size, and every file says what its error must report."""
    assert len(SCENARIOS) >= 26 and len(EPISODES) >= 8
    assert len(SCENARIOS) + len(EPISODES) >= 25
    for path in [*SCENARIOS, *EPISODES]:
        assert expectation(path), path
        assert reported(path).is_file(), path
        assert only(path) in (None, "predict", "library"), path


@pytest.mark.parametrize("count", ["-5", "0", "-1_000_000"])
def test_replicates_below_one_are_rejected(count, tmp_path):
    """A scenario asking for no or negative replicates is one line, exit 2, before any run."""
    scenario = tmp_path / "no_replicates.toml"
    scenario.write_text(
        'name = "no-replicates"\nquestion = "Is a replicate count below one rejected?"\n'
        f'start = "2025-01"\nend = "2025-06"\nreplicates = {count}\n'
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    assert_rejected(result, scenario, "replicates")
    assert "greater than or equal to 1" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("count", ["-5", "0"])
def test_replicates_option_below_one_is_rejected(command, count, tmp_path):
    """``--replicates`` below one is a usage error (exit 2) and nothing is written."""
    out = tmp_path / "out"
    scenarios = [str(HISTORY)] * (2 if command == "compare" else 1)
    result = runner.invoke(app, [command, *scenarios, "--replicates", count, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "--replicates" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("replicates", [0, -5])
def test_run_scenario_refuses_fewer_than_one_replicate(history, replicates):
    from multivector.runs.runner import run_scenario

    with pytest.raises(ValueError, match="at least 1"):
        run_scenario(history, replicates=replicates, seed=1)
