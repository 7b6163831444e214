"""Hostile and careless input, and faults while a run writes (issue 16).

Each test here failed before the fix it covers: special files read until they hang or exhaust
memory, nesting that overflows the TOML reader, designs built before they are counted, runs
started that cannot fit, output folders checked only after the work, two runs interleaving in
one folder, and a run killed while writing leaving a folder that looks finished.
"""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from multivector.cli.commands import app, is_loopback
from multivector.errors import InputError, printable
from multivector.files import COMPLETE, LOCK_NAME, check_output_folder, verify_complete
from tests.conftest import HISTORY, ROOT
from tests.test_malformed import assert_rejected

runner = CliRunner()
BLOCKADE = ROOT / "scenarios" / "russian_transit_blockade_2025.toml"
SHORT = """
name = "short"
question = "Does the file get this far?"
start = "2025-01"
end = "2025-06"
replicates = 2
"""


def one_line_error(result) -> str:
    """The single stderr line of a refused command (exit 2, no traceback, nothing on stdout)."""
    shown = f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.exit_code == 2, shown
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert result.stdout == "", shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), shown
    return lines[0]


# --- special files --------------------------------------------------------------------------


def test_fifo_is_refused_without_blocking(tmp_path):
    """A FIFO given as the scenario is refused at once instead of blocking forever."""
    fifo = tmp_path / "scenario.toml"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    # a subprocess with a timeout: before the fix this read blocks until killed
    done = subprocess.run(
        [sys.executable, "-m", "multivector", "run", str(fifo), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: {fifo}: is not a regular file (a FIFO, device or socket)"
    ]
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "predict", "sweep", "statics"])
def test_device_is_refused(command, tmp_path):
    """``/dev/zero`` is refused by type before a byte is read (it never ends)."""
    out = tmp_path / "out"
    args = [command, "/dev/zero"] + (["--out", str(out)] if command in ("run", "sweep") else [])
    line = one_line_error(runner.invoke(app, args))
    assert line == "error: /dev/zero: is not a regular file (a FIFO, device or socket)"
    assert not out.exists()


def test_oversized_file_is_refused_by_its_size(tmp_path):
    """A file over the input limit is refused from its size, unread."""
    from multivector.inputs.schema import MAX_INPUT_BYTES

    huge = tmp_path / "huge.toml"
    with huge.open("wb") as handle:
        handle.truncate(MAX_INPUT_BYTES + 1)  # sparse: costs no disk
    line = one_line_error(runner.invoke(app, ["run", str(huge), "--out", str(tmp_path / "o")]))
    assert "input files are limited to 16,000,000" in line


# --- nesting, long and hostile text -----------------------------------------------------------


@pytest.mark.parametrize("where", ["override", "description"])
@pytest.mark.parametrize("depth", [30, 1500])
def test_deep_nesting_is_one_line(where, depth, tmp_path):
    """Nesting the reader would recurse on (1,500 deep) or that no format needs (30 deep)."""
    nested = "[" * depth + "1" + "]" * depth
    if where == "override":
        text = SHORT + f'\n[overrides]\n"dynamics.response" = {nested}\n'
    else:
        text = SHORT.replace('question = "', f'description = {nested}\nquestion = "')
    scenario = tmp_path / "deep.toml"
    scenario.write_text(text)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    assert_rejected(result, scenario, "nested too deeply")
    assert not out.exists()


def test_long_unknown_key_is_cut_short(tmp_path):
    """A 100,000-character unknown key is named by its start and length, not echoed whole."""
    scenario = tmp_path / "long.toml"
    scenario.write_text(SHORT + "k" * 100_000 + " = 1\n")
    line = one_line_error(runner.invoke(app, ["run", str(scenario), "--out", str(tmp_path / "o")]))
    assert "unknown field" in line and "(100,000 characters)" in line
    assert len(line) < 500 + len(str(scenario))


def test_bidirectional_override_in_a_name_is_escaped(tmp_path):
    """A right-to-left override in a shock's name is shown escaped, never raw."""
    scenario = tmp_path / "bidi.toml"
    scenario.write_text(
        SHORT
        + '\n[[shock]]\nkind = "protest"\nname = "evil\u202eeman"\ndate = "2025-03"\n'
        + 'country = "KAZ"\nagainst = "RUS"\n'
    )
    line = one_line_error(runner.invoke(app, ["run", str(scenario), "--out", str(tmp_path / "o")]))
    assert "\u202e" not in line and "\\u202e" in line


def test_printable_escapes_controls_and_cuts_words():
    text = printable("a\x1b[31mb\nc\u2067 " + "x" * 1000)
    assert "\x1b" not in text and "\\u001b" in text and "\\u2067" in text and "\n" not in text
    assert text.endswith("…(1,000 characters)") and len(text) < 200
    assert str(InputError("f.toml", "k" * 5000, "bad")).count("k") < 200


# --- command-line options ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", str(HISTORY), "--replicates", "0"], "--replicates"),
        (["run", str(HISTORY), "--seed", str(2**63)], "--seed"),
        (["sweep", "x.toml", "--workers", "-1"], "--workers"),
        (["predict", "x.toml", "--draws", "many"], "--draws"),
        (["run", str(HISTORY), "--frobnicate"], "--frobnicate"),
        (["run"], "Missing argument"),
        (["nonsense"], "No such command"),
    ],
)
def test_bad_option_is_one_line(args, fragment, tmp_path):
    """Typer's usage line and boxed message are condensed into one line naming the option."""
    line = one_line_error(runner.invoke(app, [*args]))
    assert fragment in line and "--help" in line
    assert not (tmp_path / "results").exists()


def test_teach_warns_when_it_binds_beyond_loopback(monkeypatch):
    served = []
    monkeypatch.setattr("multivector.app.page.serve", lambda **kw: served.append(kw))
    quiet = runner.invoke(app, ["teach"])
    loud = runner.invoke(app, ["teach", "--host", "0.0.0.0"])
    assert quiet.exit_code == loud.exit_code == 0
    assert quiet.stderr == ""
    assert loud.stderr.startswith("warning: serving on 0.0.0.0: anyone who can reach")
    assert served == [{"host": "127.0.0.1", "port": 8765}, {"host": "0.0.0.0", "port": 8765}]
    assert is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("192.168.1.5") and not is_loopback("classroom.local")


# --- designs and runs too large ---------------------------------------------------------------


def test_huge_grid_is_counted_not_built(tmp_path):
    """A grid of 10^9 points is refused from its count, without building the product."""
    (tmp_path / "scenario.toml").write_text(SHORT)
    inputs = "".join(
        f'\n[[input]]\ntarget = "actor.KAZ.{w}"\nlow = 0.0\nhigh = 1.0\nlevels = 1000\n'
        for w in ("material", "autonomy", "prestige")
    )
    experiment = tmp_path / "grid.toml"
    experiment.write_text(
        'name = "huge-grid"\nquestion = "test"\nscenarios = ["scenario.toml"]\n'
        'sampler = "grid"\nreplicates = 1\nseed = 1\n' + inputs
    )
    out = tmp_path / "out"
    started = time.perf_counter()
    line = one_line_error(runner.invoke(app, ["sweep", str(experiment), "--out", str(out)]))
    assert time.perf_counter() - started < 30  # building 10^9 tuples took minutes, then died
    assert "1,000,000,000 runs is more than 10,000,000" in line
    assert not out.exists()


def test_sample_count_matches_what_is_drawn():
    from multivector.inputs.experiment import load_experiment, sample_count

    for name in ("sanctions_sweep", "sensitivity_sobol"):
        design = load_experiment(ROOT / "experiments" / f"{name}.toml")
        assert sample_count(design.experiment) == design.samples


def test_run_that_cannot_fit_in_memory_is_refused_with_the_figure(tmp_path):
    """A million replicates of the history (terabytes) are refused before the first month."""
    out = tmp_path / "out"
    args = ["run", str(HISTORY), "--replicates", "1000000", "--out", str(out)]
    line = one_line_error(runner.invoke(app, args))
    assert "--replicates: 1,000,000 replicates of" in line and "TB of memory" in line
    assert "use at most" in line
    assert not out.exists()


def test_estimate_counts_the_slots_a_run_fills():
    """The estimate's decision slots bound the choice rows a run writes, closely."""
    from multivector import api

    scenario = api.load_scenario(BLOCKADE)
    cost = api.estimate(scenario, replicates=40)
    result = api.run(scenario, replicates=40, seed=3)
    rows_per_replicate = len(result.choices) / 40
    assert 0.7 * cost.slots <= rows_per_replicate <= cost.slots
    assert cost.months == 36
    assert api.estimate(scenario, replicates=80).memory_bytes > cost.memory_bytes


# --- the output folder ------------------------------------------------------------------------


def test_output_under_a_file_is_refused_before_the_run(tmp_path, monkeypatch):
    """A ``--out`` that cannot be created is refused before any simulation."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    ran = []
    monkeypatch.setattr("multivector.api.run", lambda *a, **k: ran.append(a))
    line = one_line_error(
        runner.invoke(app, ["run", str(BLOCKADE), "--replicates", "2", "--out", str(blocker / "x")])
    )
    assert line == f"error: {blocker / 'x'}: cannot be created: {blocker} is not a folder"
    assert ran == []


def test_unwritable_and_full_folders_are_refused(tmp_path, monkeypatch):
    """Permission and free space are checked first, with the figures."""
    monkeypatch.setattr("multivector.files.os.access", lambda *a: False)
    with pytest.raises(InputError, match="permission denied"):
        check_output_folder(tmp_path / "new")
    monkeypatch.undo()

    class Usage:
        free = 10_000_000

    monkeypatch.setattr("multivector.files.shutil.disk_usage", lambda path: Usage)
    out = tmp_path / "out"
    line = one_line_error(
        runner.invoke(app, ["run", str(HISTORY), "--replicates", "4000", "--out", str(out)])
    )
    assert "not enough free space: the results need about" in line and "10.0 MB is free" in line
    assert not out.exists()


def test_a_failed_write_leaves_no_folder(tmp_path, monkeypatch):
    """A disk that fills while the results are written: one line, and no empty folder left."""
    import errno

    def full(self, final, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("multivector.files.FileSet.json", full)
    out = tmp_path / "out"
    line = one_line_error(
        runner.invoke(app, ["run", str(BLOCKADE), "--replicates", "2", "--out", str(out)])
    )
    assert line == f"error: {out}: cannot write results: No space left on device"
    assert not out.exists()


def _run_command(out: Path, replicates: int, scenario: Path = BLOCKADE) -> list[str]:
    return [
        sys.executable,
        "-m",
        "multivector",
        "run",
        str(scenario),
        "--replicates",
        str(replicates),
        "--out",
        str(out),
        "--json",
    ]


def test_a_second_writer_is_refused(tmp_path):
    """Two runs into one folder: the second is refused in one line, the folder holds the first."""
    out = tmp_path / "out"
    first = subprocess.Popen(
        _run_command(out, 6000), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        lock = out / LOCK_NAME
        deadline = time.monotonic() + 60
        while not (lock.is_file() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = subprocess.run(
            _run_command(out, 3), capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
    finally:
        first.wait(timeout=300)
    assert first.returncode == 0, first.stderr.read()
    assert second.returncode == 2 and second.stdout == ""
    assert second.stderr.splitlines() == [
        f"error: {out}: is being written by another multivector process (pid {first.pid}): "
        "wait for it to finish or choose another --out"
    ]
    verify_complete(out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replicates"] == 6000
    assert pq.read_metadata(out / "trajectories.parquet").num_rows == 6000 * 36


def _forked_run(args: list[str]) -> int:
    """Start ``multivector ARGS`` in a forked child (the model already imported); its pid.

    A fork costs no imports, so 20 runs to kill take seconds, not minutes; the kill is still
    a real ``kill -9`` of a process writing its results.
    """
    with warnings.catch_warnings():
        # threads left by earlier tests (Arrow's pool) are idle; the child only runs the CLI
        warnings.filterwarnings("ignore", "This process .* is multi-threaded")
        pid = os.fork()
    if pid == 0:  # the child: run the command, never return into pytest
        code = 1
        try:
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            app(args, prog_name="multivector")
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        finally:
            os._exit(code)
    return pid


def _wait(pid: int, timeout: float = 120) -> int:
    """The exit status of a forked child, or a failure if it does not end in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"the forked run {pid} did not finish in {timeout} s")


def test_kill_at_random_points_never_leaves_a_folder_that_looks_complete(tmp_path):
    """kill -9 at 20 random moments of ``run``: the folder is absent, incomplete, or complete
    and readable; and a rerun gives byte-identical files."""
    scenario = tmp_path / "short.toml"  # six months from the structural start: the run is
    scenario.write_text(SHORT)  # short, so many kills land while it writes and draws
    args = _run_command(tmp_path / "reference", 20, scenario)[3:]
    runner.invoke(app, args)  # warm: the library and parameters are read once per process
    started = time.monotonic()
    assert _wait(_forked_run(args)) == 0
    duration = time.monotonic() - started
    expected = verify_complete(tmp_path / "reference")["files"]
    rng = np.random.default_rng(16)
    seen = {"absent": 0, "incomplete": 0, "complete": 0}
    for attempt in range(20):
        out = tmp_path / f"killed-{attempt}"
        child = _forked_run(_run_command(out, 20, scenario)[3:])
        time.sleep(rng.uniform(0.0, 1.05) * duration)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        if not out.exists():
            seen["absent"] += 1
        elif not (out / COMPLETE).exists():
            seen["incomplete"] += 1
        else:
            seen["complete"] += 1
            assert verify_complete(out)["files"].keys() == expected.keys()
            for name in expected:
                if name.endswith(".parquet"):
                    pq.read_table(out / name)
            json.loads((out / "summary.json").read_text())
        # the same run again, into what the kill left: byte for byte what the reference holds
        rerun = runner.invoke(app, _run_command(out, 20, scenario)[3:])
        assert rerun.exit_code == 0, rerun.stderr
        assert verify_complete(out)["files"] == expected
        assert not list(out.glob(".*.partial*"))
    print(f"kill -9 of run, 20 tries: {seen}")
    assert sum(seen.values()) == 20
    assert seen["incomplete"] > 0  # some kills did land while the files were being written


def test_calibrate_checks_its_destinations_before_fitting(tmp_path, monkeypatch):
    """A bad ``--report`` or ``--out`` is refused before twenty minutes of fitting."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    fitted = []
    monkeypatch.setattr("multivector.api.calibrate", lambda **kw: fitted.append(kw))
    line = one_line_error(runner.invoke(app, ["calibrate", "--report", str(blocker / "r")]))
    assert line == f"error: {blocker / 'r'}: cannot be created: {blocker} is not a folder"
    line = one_line_error(runner.invoke(app, ["calibrate", "--out", str(blocker / "p.toml")]))
    assert line == f"error: {blocker}: is not a folder"
    line = one_line_error(runner.invoke(app, ["calibrate", "--out", str(tmp_path)]))
    assert line == f"error: {tmp_path}: is a folder: give the parameter file to write"
    assert fitted == []


def test_fifo_votes_table_is_refused_without_blocking(tmp_path):
    """``predict VOTES.csv`` given a FIFO: refused at once (it blocked forever before)."""
    fifo = tmp_path / "votes.csv"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "multivector", "predict", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: {fifo}: is not a regular file (a FIFO, device or socket)"
    ]
