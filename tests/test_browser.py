"""The teaching app in a real browser: headless Debian Chromium driven by Playwright.

The server runs in a subprocess on 127.0.0.1 and a free port, exactly as ``multivector teach``
starts it. Screenshots go to a temporary folder, or to ``$MULTIVECTOR_SCREENSHOTS`` when set
(``docs/images/`` is made that way).
"""

import os
import time
from pathlib import Path

import pytest

from tests.browsing import (
    VIEWPORT,
    choose,
    chromium,
    free_port,
    open_app,
    run_on,
    shows,
    snap,
    start_server,
    status,
    stop_server,
    wait_status,
)

SESSIONS = 8
"""Browser sessions open at once in the concurrency test (each its own context and cookie)."""
RESPONSIVE = 6.0
"""Seconds within which every session's step must show, with all of them stepping at once."""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    url = f"http://127.0.0.1:{port}/"
    process = start_server(
        ["-m", "multivector.app.page", "--host", "127.0.0.1", "--port", str(port)], url, log
    )
    yield url
    stop_server(process)


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("MULTIVECTOR_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def image(page, card: str) -> str:
    """The chart's current image (a fresh blob URL each time the server sends a new one)."""
    return page.locator(f"{card} img").first.get_attribute("src")


def heat_text(page) -> str:
    return page.locator(".mv-heat-box").inner_text()


def log_text(page) -> str:
    return page.locator(".mv-log").inner_text()


def changed(read, before, timeout: float = 10.0) -> bool:
    """Whether ``read()`` moves away from ``before`` within the timeout.

    Solara sends each widget's update as its own message, so a chart or the log may show a
    moment after the status line that the test waits on.
    """
    deadline = time.monotonic() + timeout
    while read() == before:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def press_step(page, times: int = 1, per_click: int = 1) -> None:
    for _ in range(times):
        before = int(status(page, "steps"))
        page.get_by_role("button", name="Step").click()
        wait_status(page, "steps", str(before + per_click))


def slider(page, label: str):
    return page.locator(".v-input", has_text=label).locator("[role=slider]")


def nudge(page, label: str, presses: int) -> None:
    """Move a Mesa slider with the keyboard, as a user on a laptop would."""
    slider(page, label).focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")


def test_step_slider_and_play_three_episodes(server, browser, shots):
    page = open_app(browser, server)
    fan, heat, log = image(page, ".mv-fan"), heat_text(page), log_text(page)
    assert status(page, "steps") == "0"
    assert "No decision yet" in log

    # Step three months: the charts redraw and Kazakhstan's first decisions enter the log.
    press_step(page, 3)
    assert status(page, "month") == "2014-03"
    assert changed(lambda: image(page, ".mv-fan"), fan)
    assert changed(lambda: heat_text(page), heat)
    assert shows(page, ".mv-log", "Astana protests to Moscow")
    log = log_text(page)
    assert "Model's probabilities" in log

    # Mesa's render interval: 13 months a click, on to mid-2018 for the overview screenshot.
    nudge(page, "Render Interval", 6)
    press_step(page, 4, per_click=13)
    assert status(page, "month") == "2018-07"
    assert changed(lambda: log_text(page), log)
    snap(page).screenshot(path=shots / "watch.png")

    # A weight slider, applied by Mesa's Reset: a new run with Kazakhstan's new weight.
    fan = image(page, ".mv-fan")
    nudge(page, "Weight: autonomy", 6)
    page.get_by_role("button", name="Reset").click()
    wait_status(page, "autonomy", "1.60")
    assert status(page, "steps") == "0"
    press_step(page, 1, per_click=13)
    assert changed(lambda: image(page, ".mv-fan"), fan)

    # Play Kazakhstan (Mesa's checkbox, then Reset), with the calibrated weight back.
    slider(page, "Weight: autonomy").focus()
    for _ in range(6):
        page.keyboard.press("ArrowLeft")
    page.locator(".v-input--checkbox label", has_text="Play as Kazakhstan").click()
    page.get_by_role("button", name="Reset").click()
    page.wait_for_selector(".mv-play")
    assert status(page, "turns") == "0" and status(page, "autonomy") == "1.00"
    run_on(page)
    assert status(page, "waiting") == "yes"
    fan, log = image(page, ".mv-fan"), log_text(page)
    faced = []
    while len(faced) < 3 or status(page, "waiting") == "yes":  # three episodes, whole months
        if len(faced) == 3:
            snap(page).screenshot(path=shots / "choice.png")  # a decision waiting for the student
        faced.append(choose(page, len(faced)))
        if status(page, "waiting") == "no" and len(faced) < 3:
            run_on(page)
    assert len(set(faced)) >= 3, faced
    assert shows(page, ".mv-outcome", "The others in the same decision")  # the UN vote
    assert shows(page, ".mv-outcome", "In history Astana chose")
    outcome = page.locator(".mv-outcome").inner_text()
    assert "Your choice:" in outcome and "The model's probabilities" in outcome
    assert "median alignment" in outcome
    assert changed(lambda: image(page, ".mv-fan"), fan)
    assert shows(page, ".mv-log", "Crimea")
    assert log_text(page) != log
    snap(page).screenshot(path=shots / "play.png")

    # A few more months of 2014 for a debrief worth reading, then the debrief itself.
    while status(page, "month") < "2014-07":
        if status(page, "waiting") == "yes":
            faced.append(choose(page, len(faced)))
        else:
            press_step(page)
    page.locator(".mv-show-debrief").click()
    page.wait_for_selector(".mv-debrief table")
    page.wait_for_selector(".mv-debrief img")
    debrief = page.locator(".mv-debrief").inner_text()
    assert "You chose as Astana did in" in debrief
    assert page.locator(".mv-debrief tbody tr").count() == int(status(page, "turns"))
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 2200})  # the whole card
    snap(page).locator(".mv-debrief").screenshot(path=shots / "debrief.png")
    page.context.close()


def test_concurrent_sessions_are_isolated_and_responsive(server, browser):
    pages = [open_app(browser, server, wait=False) for _ in range(SESSIONS)]
    for page in pages:
        page.wait_for_selector(".mv-status", timeout=90_000)

    # One student steps: nobody else's run moves.
    press_step(pages[0], 3)
    assert [status(p, "steps") for p in pages[1:]] == ["0"] * (SESSIONS - 1)

    # Everybody steps at once, three times: each session answers within a few seconds.
    slowest = 0.0
    for round_ in range(1, 4):
        started = time.monotonic()
        for page in pages:
            page.get_by_role("button", name="Step").click()
        for k, page in enumerate(pages):
            wait_status(page, "steps", str(round_ + (3 if k == 0 else 0)), timeout=30_000)
            slowest = max(slowest, time.monotonic() - started)
    print(f"slowest step with {SESSIONS} sessions: {slowest:.2f} s")
    assert slowest < RESPONSIVE, f"a step took {slowest:.1f} s with {SESSIONS} sessions"
    assert [status(p, "steps") for p in pages] == ["6"] + ["3"] * (SESSIONS - 1)

    # A reset with other settings in one session leaves the others' runs and settings alone.
    nudge(pages[1], "Weight: autonomy", 6)
    pages[1].get_by_role("button", name="Reset").click()
    wait_status(pages[1], "autonomy", "1.60")
    assert status(pages[1], "steps") == "0"
    assert [status(p, "autonomy") for p in pages[2:]] == ["1.00"] * (SESSIONS - 2)
    assert [status(p, "steps") for p in pages[2:]] == ["3"] * (SESSIONS - 2)
    for page in pages:
        page.context.close()


def test_scenario_and_shock_slider(server, browser, shots):
    page = open_app(browser, server)
    page.locator(".v-select", has_text="Scenario").click()
    page.get_by_role("option", name="russian transit blockade 2025").click()
    page.get_by_role("button", name="Reset").click()
    assert shows(page, ".mv-status", "blocked Kazakhstan's northern transit")
    assert "shock 1 intensity 1.5" in page.locator(".mv-status").inner_text()
    assert shows(page, ".mv-scenario", "Russia restricts Kazakhstan's transit")

    # Weaken the blockade (1.5 to 1.0) with its slider; Reset applies it.
    slider(page, "Shock 1 intensity").focus()
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    page.get_by_role("button", name="Reset").click()
    assert shows(page, ".mv-status", "shock 1 intensity 1.0")
    fan = image(page, ".mv-fan")
    nudge(page, "Render Interval", 5)  # 11 months a click
    press_step(page, 2, per_click=11)
    assert status(page, "month") == "2026-10"
    assert changed(lambda: image(page, ".mv-fan"), fan)
    assert shows(page, ".mv-log", "transit")
    snap(page).screenshot(path=shots / "scenario.png")
    page.context.close()
