"""A class session under load: 30 students making all their choices against one store at once.

Each student is a thread doing what the student page's handlers do (the page calls the same
:class:`~multivector.app.classroom.StudentRun` methods): join with the code, then make every
choice of the class's scenario, or run on, until the run ends. Some students also have a
second tab open on the same run, which tries every choice again, and every tenth choice is
double-clicked (two threads at once); all of those must be refused. An instructor thread
reads the class's view every poll interval, as the instructor's page does. Prints the
response times of each kind (join, choice, run on, instructor view) and the slowest.

``tests/test_class_load.py`` runs this and checks the store: every choice stored exactly once.

Usage:
    python benchmarks/class_load.py [--students 30] [--scenario FILE] [--replicates 100] [--json]
"""

import argparse
import random
import sqlite3
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from multivector.app.classroom import (
    POLL_SECONDS,
    ClassError,
    ClassStore,
    StudentRun,
    class_view,
)
from multivector.app.teaching import DEFAULT_SCENARIO, TEACHING_REPLICATES

SECOND_TABS = 5
"""Students with a second tab open on their run."""
DOUBLE_CLICK_EVERY = 10


class Timings:
    """Response times by kind, from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, list[float]] = defaultdict(list)

    def timed(self, kind: str, action, *args):
        start = time.perf_counter()
        try:
            return action(*args)
        finally:
            with self.lock:
                self.seconds[kind].append(time.perf_counter() - start)

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            kind: {
                "count": len(values),
                "median_s": round(float(np.median(values)), 4),
                "p95_s": round(float(np.percentile(values, 95)), 4),
                "slowest_s": round(max(values), 4),
            }
            for kind, values in sorted(self.seconds.items())
        }


def play_student(store: ClassStore, code: str, number: int, timings: Timings) -> dict[str, Any]:
    """One student: join, then every choice to the end of the run. Returns what they did."""
    student = timings.timed("join", store.join, code, f"student {number + 1}")
    run = timings.timed("join", StudentRun, store, student)
    tab = StudentRun(store, student) if number < SECOND_TABS else None
    rng = random.Random(number)
    made: list[tuple[str, str | None]] = []
    refused = accepted_twice = 0
    while not run.finished:
        pending = run.model.pending()
        if not pending:
            timings.timed("run on", run.run_on)
            continue
        decision = pending[0]
        option = rng.choice([*decision.options, None])  # None: left to the model
        if len(made) % DOUBLE_CLICK_EVERY == DOUBLE_CLICK_EVERY - 1:
            outcomes = double_click(run, decision.key, option, timings)
            refused += outcomes.count("refused")
            accepted_twice += outcomes.count("stored") - 1
        else:
            timings.timed("choice", run.choose, decision.key, option)
        made.append((decision.key, option))
        if tab is not None:
            try:
                tab.choose(decision.key, option)
                accepted_twice += 1
            except ClassError:
                refused += 1
    return {
        "student_id": student.id,
        "made": made,
        "refused": refused,
        "accepted_twice": accepted_twice,
    }


def double_click(run: StudentRun, key: str, option: str | None, timings: Timings) -> list[str]:
    """The same choice from two threads at once: one must be stored, the other refused."""
    start = threading.Barrier(2)

    def click() -> str:
        start.wait()
        try:
            timings.timed("choice", run.choose, key, option)
            return "stored"
        except ClassError:
            return "refused"

    with ThreadPoolExecutor(max_workers=2) as clicks:
        return list(clicks.map(lambda _: click(), range(2)))


def simulate(
    store_path: Path,
    students: int = 30,
    scenario: str = DEFAULT_SCENARIO,
    replicates: int = TEACHING_REPLICATES,
) -> dict[str, Any]:
    """Run a class of ``students`` against one store; return what was done and the timings."""
    store = ClassStore(store_path)
    session = store.create_class(f"load test, {students} students", scenario, None, replicates)
    timings = Timings()
    done = threading.Event()
    # the teacher opens the instructor page before the class joins (multivector teach --class
    # computes the model's own run as it starts): that first view is timed alone
    timings.timed("first instructor view", class_view, store, session)

    def instructor() -> int:
        views = 0
        while not done.wait(POLL_SECONDS):
            timings.timed("instructor view", class_view, store, session)
            views += 1
        return views

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as teacher:
        watching = teacher.submit(instructor)
        with ThreadPoolExecutor(max_workers=students) as room:
            results = list(
                room.map(lambda k: play_student(store, session.code, k, timings), range(students))
            )
        done.set()
        watching.result()
    seconds = time.perf_counter() - started
    slowest = max(
        ((kind, max(values)) for kind, values in timings.seconds.items()), key=lambda kv: kv[1]
    )
    return {
        "students": students,
        "scenario": scenario,
        "replicates": replicates,
        "choices_made": sum(len(r["made"]) for r in results),
        "refused_repeats": sum(r["refused"] for r in results),
        "accepted_twice": sum(r["accepted_twice"] for r in results),
        "seconds": round(seconds, 1),
        "timings": timings.summary(),
        "slowest": {"kind": slowest[0], "seconds": round(slowest[1], 3)},
        "results": results,
        "store": str(store.path),
        "class_id": session.id,
    }


def stored_choices(store_path: Path) -> dict[int, list[tuple[str, str | None]]]:
    """Every stored choice, by student, in the order stored.

    Read with SQL of its own, not through :class:`ClassStore`, so the check that each choice
    was stored once does not rest on the code that stored it.
    """
    found: dict[int, list[tuple[str, str | None]]] = defaultdict(list)
    with sqlite3.connect(store_path) as db:
        rows = db.execute("SELECT student_id, decision_key, option FROM choice ORDER BY seq")
        for student_id, key, option in rows:
            found[student_id].append((key, option))
    return found


def main() -> None:
    from report import emit  # benchmarks/report.py, beside this script

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO)
    parser.add_argument("--replicates", type=int, default=TEACHING_REPLICATES)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        found = simulate(
            Path(folder) / "load.sqlite", args.students, args.scenario, args.replicates
        )
        stored = stored_choices(Path(found["store"]))
    made = {r["student_id"]: r["made"] for r in found["results"]}
    found["stored_exactly_once"] = stored == made
    for name in ("results", "store", "class_id"):
        found.pop(name)
    emit(found, args.json)


if __name__ == "__main__":
    main()
