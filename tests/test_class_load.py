"""A class of 30 under load: every choice stored exactly once (benchmarks/class_load.py).

Thirty students play the whole documented record (88 choices each) at once against one
store, as the student page's handlers would, with second tabs and double clicks that must be
refused. The response times are printed (``-s``); their figures are quoted from the benchmark,
not asserted here.
"""

import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from class_load import SECOND_TABS, simulate, stored_choices  # noqa: E402

from multivector.app.classroom import ClassStore  # noqa: E402

STUDENTS = 30


def test_thirty_students_every_choice_stored_exactly_once(tmp_path):
    found = simulate(tmp_path / "load.sqlite", students=STUDENTS)
    print({k: found[k] for k in ("seconds", "slowest", "timings", "choices_made")})
    made = {r["student_id"]: r["made"] for r in found["results"]}
    assert len(made) == STUDENTS
    # each student met every decision of the record, and the store has each once, in order
    assert {len(m) for m in made.values()} == {88}
    assert stored_choices(tmp_path / "load.sqlite") == made
    with sqlite3.connect(tmp_path / "load.sqlite") as db:
        total, distinct = db.execute(
            "SELECT count(*), count(DISTINCT student_id || ' ' || decision_key) FROM choice"
        ).fetchone()
    assert total == distinct == STUDENTS * 88
    # second tabs and double clicks were all refused, none stored
    assert found["accepted_twice"] == 0
    assert found["refused_repeats"] >= SECOND_TABS * 88
    store = ClassStore(tmp_path / "load.sqlite")
    students = store.students(found["class_id"])
    assert all(s.finished for s in students)
    # every student's alignment path is stored month by month to the run's end
    months = {len(store.alignment_path(s.id)[0]) for s in students}
    assert months == {147}
