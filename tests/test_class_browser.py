"""A class session in a real browser: an instructor and three students, each in their own context.

The server is started exactly as a teacher starts it (``multivector teach --store FILE --class
NAME``), on 127.0.0.1 and a free port; the join code and instructor link are read from what it
prints. Midway the server is stopped and started again on the same store: nothing may be lost.
Every websocket message a student's browser receives is kept, to check that the instructor's
token, and the other students' runs, never reach it.
"""

import csv
import io
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from multivector.app.classroom import ClassStore, export_folder
from multivector.app.teaching import plain
from tests.browsing import (
    VIEWPORT,
    chromium,
    free_port,
    pick,
    run_on,
    snap,
    start_server,
    status,
    stop_server,
)

CLASS = "Browser test class"
NICKNAMES = ("aigerim-q7", "bolat-q7", "dana-q7")
"""Nicknames no page would show by chance, so finding one in a page means it was sent there."""
POLL = 20_000
"""Milliseconds to wait for the instructor's page, which polls the store every 2 s."""


class Classroom:
    """The teacher's server on one store: started, restarted, and what it printed."""

    def __init__(self, folder: Path) -> None:
        self.store = folder / "class.sqlite"
        self.log = folder / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process = None
        self.start()

    def start(self) -> None:
        arguments = ["-m", "multivector", "teach", "--store", str(self.store)]
        arguments += ["--class", CLASS, "--port", str(self.port), "--replicates", "20"]
        self.process = start_server(arguments, self.url, self.log)

    def restart(self) -> None:
        stop_server(self.process)
        self.start()

    def printed(self, label: str) -> list[str]:
        """What the server printed after ``label:``, each time it started."""
        return re.findall(rf"^{label}: (\S+)", self.log.read_text(), re.MULTILINE)


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    room = Classroom(tmp_path_factory.mktemp("classroom"))
    yield room
    stop_server(room.process)


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


class Student:
    """A student's browser context, and every websocket message it has received."""

    def __init__(self, browser, nickname: str) -> None:
        self.browser = browser
        self.nickname = nickname
        self.received: list[str] = []
        self.made: list[tuple[str, str | None]] = []
        self.link = ""
        self.page = self.tab()

    def tab(self, context=None):
        context = context or self.browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("websocket", self.listen)
        return page

    def listen(self, socket) -> None:
        def keep(payload) -> None:
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            self.received.append(text)

        socket.on("framereceived", keep)

    def join(self, url: str, code: str) -> None:
        page = self.page
        page.goto(url)
        page.locator(".mv-join-code input").fill(code)
        page.locator(".mv-join-nickname input").fill(self.nickname)
        page.locator(".mv-join-button").click()
        page.wait_for_selector(".mv-student", timeout=60_000)
        page.wait_for_selector(".mv-status")
        self.link = page.url

    def reopen(self, fresh_context: bool = False) -> None:
        """Reload the page, or (a crashed browser) open the link in a new context."""
        if fresh_context:
            self.page.context.close()
            self.page = self.tab()
            self.page.goto(self.link)
        else:
            self.page.reload()
        self.page.wait_for_selector(".mv-student", timeout=60_000)
        self.page.wait_for_selector(".mv-status")

    def play(self, choices: list[int | None]) -> None:
        """Make these choices (an option's index, or None: let the model decide)."""
        for index in choices:
            run_on(self.page)
            self.made.append(pick(self.page, index))

    def turns(self) -> int:
        return int(status(self.page, "turns"))


def stored(store: Path) -> dict[str, list[tuple[str, str | None]]]:
    """Each student's stored choices, as (title, option label), read from the SQLite file."""
    classes = ClassStore(store)
    (session,) = classes.classes()
    return {
        s.nickname: [
            (plain(c.title), plain(c.option) if c.option else None) for c in classes.choices(s.id)
        ]
        for s in classes.students(session.id)
    }


def wait_class(page, name: str, value: int | str) -> None:
    page.wait_for_function(
        f"document.querySelector('.mv-class')?.dataset['{name}'] === '{value}'", timeout=POLL
    )


def wait_decisions(page, chosen: int, left: int) -> None:
    """Wait for the instructor's per-decision rows to add up to so many choices.

    ``chosen``: students who chose an option; ``left``: who left it to the model. The rows are
    their own widget, so they may arrive a moment after the header's counts.
    """
    page.wait_for_function(
        "(() => { const rows = [...document.querySelectorAll('.mv-decisions tr[data-key]')];"
        " const sum = (name) => rows.reduce((n, r) => n + Number(r.dataset[name]), 0);"
        f" return sum('chosen') === {chosen} && sum('left') === {left}; }})()",
        timeout=POLL,
    )


def open_instructor(browser, link: str):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(30_000)
    page.goto(link)
    page.wait_for_selector(".mv-class", timeout=60_000)
    return page


def test_a_class_plays_reloads_survives_a_restart_and_exports(classroom, browser, tmp_path):
    (code,), (link,) = classroom.printed("join code"), classroom.printed("instructor link")
    token = link.split("teacher=")[1]
    assert link.startswith(classroom.url) and len(token) >= 20
    teacher = open_instructor(browser, link)
    wait_class(teacher, "students", 0)
    assert code in teacher.locator(".mv-class").inner_text()

    # Three students join from their own browsers; a wrong code is refused on the page.
    students = [Student(browser, name) for name in NICKNAMES]
    students[0].page.goto(classroom.url)
    students[0].page.locator(".mv-join-code input").fill("ZZZZZZ")
    students[0].page.locator(".mv-join-nickname input").fill("someone")
    students[0].page.locator(".mv-join-button").click()
    students[0].page.wait_for_selector(".mv-problem")
    for student in students:
        student.join(classroom.url, code)
    assert len({s.link for s in students}) == 3
    wait_class(teacher, "students", 3)

    # Each plays a few decisions; one leaves one to the model.
    students[0].play([0, 1, 0])
    students[1].play([1, 0])
    students[2].play([None, 0])
    wait_class(teacher, "choices", 7)
    wait_decisions(teacher, 6, 1)
    assert stored(classroom.store) == {s.nickname: s.made for s in students}
    for student in students:  # the instructor's table: each student, their decisions met
        row = f"tr[data-nickname='{student.nickname}'][data-choices='{len(student.made)}']"
        teacher.wait_for_selector(f".mv-students {row}", timeout=POLL)

    # A student reloads and continues where they were.
    before = students[0].turns()
    students[0].reopen()
    assert students[0].turns() == before
    students[0].play([1])
    wait_class(teacher, "choices", 8)

    # A second tab on the same run cannot store the same decision twice.
    second = students[1].tab(students[1].page.context)
    second.goto(students[1].link)
    second.wait_for_selector(".mv-status")
    run_on(second)
    students[1].play([0])
    second.locator(".mv-option").first.click()
    second.wait_for_selector(".mv-problem")
    assert "already made" in second.locator(".mv-problem").inner_text()
    second.close()
    wait_class(teacher, "choices", 9)
    assert stored(classroom.store) == {s.nickname: s.made for s in students}

    # The server is stopped and started again on the same store: nothing is lost.
    turns = [s.turns() for s in students]
    classroom.restart()
    assert classroom.printed("join code") == [code, code]
    assert classroom.printed("instructor link") == [link, link]
    assert "reopened class" in classroom.log.read_text()
    students[0].reopen()
    students[1].reopen()
    students[2].reopen(fresh_context=True)  # a crashed browser: the link alone brings it back
    assert [s.turns() for s in students] == turns
    teacher = open_instructor(browser, link)
    wait_class(teacher, "choices", 9)
    wait_class(teacher, "students", 3)
    for student in students:
        student.play([2])
    wait_class(teacher, "choices", 12)
    wait_decisions(teacher, 11, 1)
    assert stored(classroom.store) == {s.nickname: s.made for s in students}

    # The debrief is closed until the teacher opens it for all.
    for student in students:
        assert student.page.locator(".mv-debrief table").count() == 0
        assert "Your teacher opens the debrief" in student.page.locator(".mv-debrief").inner_text()
    teacher.locator(".mv-open-debrief").click()
    wait_class(teacher, "debrief", "open")
    classes = ClassStore(classroom.store)
    (session,) = classes.classes()
    for student, found in zip(students, classes.students(session.id), strict=True):
        student.page.wait_for_selector(".mv-student[data-debrief='open']", timeout=POLL)
        student.page.wait_for_selector(".mv-debrief table", timeout=POLL)
        # a row per decision the student chose in a month already played (so with odds)
        played = [c for c in classes.choices(found.id) if c.option and c.probabilities]
        assert student.page.locator(".mv-debrief tbody tr").count() == len(played)
    assert any(s.page.locator(".mv-debrief tbody tr").count() for s in students)

    # Export from the instructor's page: a row per student and decision, as the store holds.
    teacher.locator(".mv-export").click()
    teacher.wait_for_selector(".mv-exported", timeout=POLL)
    assert "Written:" in teacher.locator(".mv-exported").inner_text()
    written = (export_folder(classes, session) / "choices.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(written)))
    assert len(rows) == 12
    assert Counter((r["nickname"], r["decision_title"], r["choice"]) for r in rows) == Counter(
        (s.nickname, c.title, c.option or "")
        for s in classes.students(session.id)
        for c in classes.choices(s.id)
    )
    with teacher.expect_download() as download:
        teacher.get_by_text("Download the CSV").click()
    assert Path(download.value.path()).read_text() == written
    shots = os.environ.get("MULTIVECTOR_SCREENSHOTS")
    if shots:
        teacher.set_viewport_size({"width": VIEWPORT["width"], "height": 1700})
        snap(teacher).screenshot(path=Path(shots) / "class_instructor.png")

    # No student's browser ever received the instructor's token, or another student's run.
    for student in students:
        assert student.received, "the student's page sent no websocket messages to check"
        html = student.page.content()
        assert token not in html and not any(token in m for m in student.received)
        for other in students:
            if other is not student:
                secret = other.link.split("student=")[1]
                assert not any(other.nickname in m or secret in m for m in student.received)
        # the checks can fail: a student's own name reaches their page, as their link the teacher's
        assert any(student.nickname in m for m in student.received)
        assert student.link.split("student=")[1] in teacher.content()


def test_unknown_links_show_nothing_of_any_class(classroom, browser):
    page = browser.new_context(viewport=VIEWPORT).new_page()
    for query in ("teacher", "student"):
        page.goto(f"{classroom.url}?{query}={'x' * 32}")
        page.wait_for_selector(".mv-unknown", timeout=60_000)
        assert CLASS not in page.content()
    page.context.close()
