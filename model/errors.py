"""The one error type that bad input raises, and its one-line message."""

import re
import unicodedata
from pathlib import Path

LONGEST_WORD = 240
"""Characters of one unbroken word (a key, a value, a path) kept in a message before it is cut:
room for a deep temporary path, not for a pasted blob."""

LONGEST_MESSAGE = 1000
"""Characters of a whole message kept: one terminal line or two, never a screenful."""


def _escaped(character: str) -> str:
    # control, format (the bidirectional overrides are format characters), private, unassigned
    if unicodedata.category(character)[0] == "C":
        code = ord(character)
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return character


def printable(text: str) -> str:
    r"""``text`` made safe to print on one terminal line.

    Control and bidirectional characters are escaped (``\u202e``), so a name cannot reverse or
    break the line, and every overlong word is cut to its start, with its length.
    """
    text = "".join(_escaped(c) for c in text)
    text = re.sub(
        rf"\S{{{LONGEST_WORD + 1},}}",
        lambda m: f"{m.group()[: LONGEST_WORD // 2]}…({len(m.group()):,} characters)",
        text,
    )
    if len(text) > LONGEST_MESSAGE:
        text = f"{text[: LONGEST_MESSAGE - 1]}…"
    return text


class InputError(Exception):
    """A data, scenario or parameter file that cannot be used.

    The command-line interface prints ``str(error)`` as a single line and exits with code 2.
    Every part is made printable (:func:`printable`): what the user wrote is echoed escaped and
    cut short, never raw.

    Args:
        path: The offending file (or directory).
        field: Dotted path to the offending field, or ``""`` for the file as a whole.
        problem: What is wrong, in a few words.

    """

    def __init__(self, path: str | Path, field: str, problem: str) -> None:
        self.path = printable(str(path))
        self.field = printable(field)
        self.problem = printable(" ".join(problem.split()))  # always one line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}" if self.field else self.path
        return f"{where}: {self.problem}"
