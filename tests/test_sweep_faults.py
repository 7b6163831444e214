"""Sweeps under faults: damaged chunks, a killed parent, a locked or unwritable folder."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import multivector.runs.sweep as engine
from multivector.cli.commands import app
from multivector.errors import InputError
from multivector.files import LOCK_NAME
from multivector.inputs.experiment import Design, load_experiment
from tests.test_sweep import SCENARIO

ROOT = Path(__file__).resolve().parent.parent


EXPERIMENT = """
name = "fault-sweep"
question = "test"
scenarios = ["scenario.toml"]
sampler = "lhs"
samples = {samples}
replicates = {replicates}
seed = 9
chunk_runs = {chunk_runs}

[[input]]
target = "dynamics.response"
low = 0.05
high = 0.3

[[outcome]]
name = "complies"

[[outcome.all]]
decision = "pressure/compliance-kaz"
actor = "KAZ"
chose = ["comply_without_joining"]

[keep]
months = "all"
metrics = ["alignment", "balance", "dependence"]
"""


def experiment(
    folder: Path,
    *,
    start: str = "2022-01",
    samples: int = 12,
    replicates: int = 15,
    chunk_runs: int = 45,
) -> Path:
    """Write the test scenario and an experiment over it into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    # the sweep tests' scenario, started earlier where a test needs longer chunks
    scenario = SCENARIO.replace('start = "2022-01"', f'start = "{start}"')
    (folder / "scenario.toml").write_text(scenario)
    path = folder / "experiment.toml"
    path.write_text(
        EXPERIMENT.format(samples=samples, replicates=replicates, chunk_runs=chunk_runs)
    )
    return path


def contents(folder: Path) -> dict[str, bytes]:
    """Every file of a results folder by name, but the lock (which holds a pid)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME
    }


@pytest.fixture(scope="module")
def design(tmp_path_factory: pytest.TempPathFactory) -> Design:
    """Twelve samples of fifteen replicates in four chunks of 45 runs."""
    return load_experiment(experiment(tmp_path_factory.mktemp("faults")))


@pytest.fixture(scope="module")
def finished(design: Design, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sweep run once, untouched."""
    out = tmp_path_factory.mktemp("finished") / "out"
    report = engine.sweep(design, out, workers=1)
    assert report.chunks == 4 and not report.failed
    return out


# --- damaged chunks ------------------------------------------------------------------------

VICTIM = "runs/part-000-0000003-0000000.parquet"
"""The chunk file the damage tests spoil (the second of four)."""


def truncate(folder: Path) -> None:
    path = folder / VICTIM
    os.truncate(path, path.stat().st_size // 2)  # as `truncate -s 50%` or a full disk leaves it


def flip_a_byte(folder: Path) -> None:
    path = folder / VICTIM
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # same size, same footer: only the digest tells
    path.write_bytes(bytes(data))


def drop_the_record(folder: Path) -> None:
    (folder / engine.CHUNK_RECORDS / "part-000-0000003-0000000.json").unlink()


@pytest.mark.parametrize("damage", [truncate, flip_a_byte, drop_the_record])
def test_resume_reruns_exactly_the_damaged_chunk(
    design: Design, finished: Path, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    """A chunk that no longer matches its record is rerun; the dataset is byte-identical."""
    out = tmp_path / "damaged"
    shutil.copytree(finished, out)
    damage(out)
    result = CliRunner().invoke(
        app, ["sweep", str(design.path), "--resume", "--out", str(out), "--workers", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["already_done"], report["ran"]) == (3, 1)
    assert contents(out) == contents(finished)
    assert report["rejected"] == 1


def test_plot_refuses_a_damaged_folder_in_one_line(finished: Path, tmp_path: Path) -> None:
    """plot (and open_sweep) on a truncated chunk: exit 2, one line naming it, no traceback."""
    from multivector.api import open_sweep

    out = tmp_path / "damaged"
    shutil.copytree(finished, out)
    truncate(out)
    result = CliRunner().invoke(app, ["plot", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert f"chunk {VICTIM} is damaged (size differs from complete.json)" in lines[0]
    assert "--resume" in lines[0] and "Traceback" not in result.output
    assert not (out / "figures").exists()
    with pytest.raises(InputError, match="is damaged"):
        open_sweep(out)


def test_complete_json_lists_every_chunk_with_its_digest(design: Design, finished: Path) -> None:
    """complete.json holds each file's size and sha256, and the size estimate counts rows."""
    import pyarrow.parquet as pq

    from multivector.files import file_record

    listed = json.loads((finished / "complete.json").read_text())["files"]
    chunks = [f"{t}/{task.name}.parquet" for t in engine.TABLES for task in engine.plan_tasks(
        design, 45
    )]  # fmt: skip
    assert set(listed) == {"manifest.json", "samples.parquet", *chunks}
    assert all(listed[name] == file_record(finished / name) for name in listed)
    assert pq.read_table(finished / "runs").num_rows == engine.kept_rows(design)


# --- workers die with their parent ---------------------------------------------------------


def children(pid: int) -> list[int]:
    """The pool's worker processes among a process's children (not the resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return [c for c in found if b"resource_tracker" not in _cmdline(c)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    """Whether a process still runs (a zombie waiting to be reaped has stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


SPAWNED = """
import sys
from pathlib import Path

import multivector.runs.sweep as engine
from multivector.inputs.experiment import load_experiment

engine._start_method = lambda: "spawn"  # as when another thread runs (a Dask client, a display)
engine.sweep(load_experiment(Path(sys.argv[1])), Path(sys.argv[2]), workers=2)
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds workers through /proc")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_exit_when_the_parent_is_killed(tmp_path: Path, method: str) -> None:
    """kill -9 of the sweep's own process (not its group): both workers are gone within 5 s.

    Each chunk runs for seconds (3,000 replicates of seven years), so a worker that merely
    finished its chunk and then noticed would still be running at the deadline.
    """
    path = experiment(tmp_path, start="2016-01", samples=4, replicates=3000, chunk_runs=3000)
    out = str(tmp_path / "out")
    if method == "fork":  # the command line forks: it runs no other thread
        command = [sys.executable, "-m", "multivector", "sweep", str(path), "--workers", "2",
                   "--out", out]  # fmt: skip
    else:
        command = [sys.executable, "-c", SPAWNED, str(path), out]
    process = subprocess.Popen(
        command, start_new_session=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
            workers = children(process.pid)
        assert len(workers) == 2, process.stderr.read() if process.poll() is not None else ""
        time.sleep(1.0)  # the workers have started and hold their first chunks
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        gone_by = time.monotonic() + 5
        while any(alive(w) for w in workers) and time.monotonic() < gone_by:
            time.sleep(0.05)
        assert not [w for w in workers if alive(w)], "workers outlived their parent"
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # what a failure left of this test's group
        process.wait(timeout=10)
        process.stderr.close()


WATCHED = """
import os
import time

import multivector.runs.sweep as engine

engine._kill_me_with_parent = lambda: None  # as where there is no prctl: the watchdog alone
engine._die_with_parent(os.getppid())
print("watching", flush=True)
time.sleep(60)
"""

MIDDLE = """
import subprocess
import sys

child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print(child.pid, flush=True)
child.wait()
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds processes through /proc")
def test_the_watchdog_alone_ends_a_worker_whose_parent_died(tmp_path: Path) -> None:
    """Without the kernel's help, a worker notices its parent's death within a second."""
    middle = subprocess.Popen(
        [sys.executable, "-c", MIDDLE, WATCHED],
        start_new_session=True,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        worker = int(middle.stdout.readline())
        assert middle.stdout.readline().strip() == "watching"
        os.kill(middle.pid, signal.SIGKILL)
        middle.wait(timeout=10)
        gone_by = time.monotonic() + 2 * engine.PARENT_POLL_SECONDS + 1
        while alive(worker) and time.monotonic() < gone_by:
            time.sleep(0.05)
        assert not alive(worker), "the watchdog did not end the worker"
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(middle.pid, signal.SIGKILL)
        middle.wait(timeout=10)
        middle.stdout.close()


# --- the output folder: locked, checked before any work ------------------------------------


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """An experiment of six runs in one chunk."""
    return experiment(tmp_path / "experiment", samples=2, replicates=3, chunk_runs=6)


@pytest.fixture
def no_runs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fail the test if any chunk runs: the refusals must come before the work."""
    ran: list[object] = []
    monkeypatch.setattr(engine, "run_task", lambda design, task: ran.append(task))
    return ran


def test_a_second_sweep_into_a_locked_folder_is_refused(tiny: Path, tmp_path: Path) -> None:
    """A folder another process writes is refused in one line; once freed, it can be used."""
    out = tmp_path / "out"
    hold = (
        "import sys\nfrom multivector.files import folder_lock\n"
        "with folder_lock(sys.argv[1]):\n    print('held', flush=True)\n    sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(out)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = CliRunner().invoke(app, ["sweep", str(tiny), "--out", str(out), "--workers", "1"])
    finally:
        holder.stdin.close()  # the holder reads to the end of its input, then lets go
        holder.wait(timeout=10)
        holder.stdout.close()
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "another multivector process" in lines[0], result.stderr
    assert f"pid {holder.pid}" in lines[0]
    assert [p.name for p in out.iterdir()] == [LOCK_NAME]
    # the lock file left behind does not make the folder "not empty"
    again = CliRunner().invoke(app, ["sweep", str(tiny), "--out", str(out), "--workers", "1"])
    assert again.exit_code == 0, again.output
    assert (out / "complete.json").is_file()


def test_an_unwritable_out_is_refused_before_any_run(
    tiny: Path, tmp_path: Path, no_runs: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only --out, one inside a read-only folder, or a file: one line, nothing run."""
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() == 0:  # root may write anywhere: answer as the kernel would a user
        real_access = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda p, mode: not (Path(p) == locked and mode & os.W_OK) and real_access(p, mode),
        )
    (tmp_path / "a-file").write_text("")
    cases = {
        locked: "is not writable: permission denied",
        locked / "inside": f"cannot be created in {locked}",
        tmp_path / "a-file": "is not a folder",
    }
    try:
        for out, fragment in cases.items():
            result = CliRunner().invoke(app, ["sweep", str(tiny), "--out", str(out)])
            assert result.exit_code == 2, result.output
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and fragment in lines[0], result.stderr
    finally:
        locked.chmod(0o700)
    assert no_runs == [] and list(locked.iterdir()) == []


def test_a_sweep_too_big_for_the_disk_is_refused_before_any_run(
    tiny: Path, tmp_path: Path, no_runs: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The estimated dataset is checked against the free space before the first chunk."""
    monkeypatch.setattr(engine, "BYTES_PER_VALUE", 1e15, raising=False)
    result = CliRunner().invoke(app, ["sweep", str(tiny), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "not enough free space" in result.stderr
    assert no_runs == [] and not (tmp_path / "out").exists()
