"""What the browser tests share: Playwright on Debian's Chromium, and a server in a subprocess.

CI must run the browser tests, so there a missing Playwright or Chromium fails the module
instead of skipping it; on a developer's machine without them the module is skipped.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

try:
    from playwright import sync_api
except ImportError as error:  # a development dependency, which CI must have
    sync_api, missing = None, f"playwright is not installed: pip install -e .[dev] ({error})"
if sync_api is None:
    if os.environ.get("CI"):
        pytest.fail(f"CI runs the browser tests, but {missing}", pytrace=False)
    pytest.skip(missing, allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("MULTIVECTOR_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1600, "height": 1080}


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium under Playwright, headless (fails in CI if it is not installed)."""
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def start_server(arguments: list[str], url: str, log: Path) -> subprocess.Popen:
    """Start ``python ARGUMENTS`` in the repository and wait until ``url`` answers.

    Fails the test with the end of the server's output if it exits or is not up in 90 s.
    """
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, *arguments], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)


def stop_server(process: subprocess.Popen) -> None:
    """Stop the server as Ctrl-C would, killing it if it does not go in 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the teaching app's page, as a student sees it ------------------------------------


def open_app(browser, url: str, wait: bool = True):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    if wait:
        page.wait_for_selector(".mv-status", timeout=60_000)
    return page


def status(page, name: str) -> str:
    return page.locator(".mv-status").get_attribute(f"data-{name}")


def wait_status(page, name: str, value: str, timeout: float = 15_000) -> None:
    page.wait_for_function(
        f"document.querySelector('.mv-status')?.dataset['{name}'] === '{value}'",
        timeout=timeout,
    )


def shows(page, css: str, text: str, timeout: float = 10_000) -> bool:
    page.wait_for_function(
        f"document.querySelector({css!r})?.innerText.includes({text!r})", timeout=timeout
    )
    return True


def snap(page):
    """Move the pointer out of the way (no hover or ripple in a screenshot)."""
    page.mouse.move(2, 300)
    page.wait_for_timeout(400)
    return page


def choose(page, index: int) -> str:
    """Pick option ``index`` (modulo their number) in the play panel; return the decision."""
    return pick(page, index)[0]


def pick(page, index: int | None) -> tuple[str, str | None]:
    """Pick option ``index`` (modulo their number), or None: let the model decide.

    Returns:
        The decision's title and the option's label as written (None: left to the model).
    """
    page.wait_for_selector(".mv-option")
    title = page.locator(".mv-play .mv-choice-title").inner_text()
    options = page.locator(".mv-option")
    turns = int(status(page, "turns"))
    if index is None:
        label = None
        page.locator(".mv-delegate").click()
    else:
        button = options.nth(index % options.count())
        label = button.text_content().strip()  # not inner_text: the button's CSS upper-cases
        button.click()
    wait_status(page, "turns", str(turns + 1))
    return title, label


def run_on(page) -> None:
    """Run to Kazakhstan's next documented decision if none is due next month."""
    if page.locator(".mv-run-on").count():
        page.locator(".mv-run-on").click()
        page.wait_for_selector(".mv-option")
