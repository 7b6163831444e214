"""The one error type that bad input raises, and its one-line message."""

from pathlib import Path


class InputError(Exception):
    """A data, scenario or parameter file that cannot be used.

    The command-line interface prints ``str(error)`` as a single line and exits with code 2.

    Args:
        path: The offending file (or directory).
        field: Dotted path to the offending field, or ``""`` for the file as a whole.
        problem: What is wrong, in a few words.

    """

    def __init__(self, path: str | Path, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = " ".join(problem.split())  # always one line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}" if self.field else self.path
        return f"{where}: {self.problem}"
