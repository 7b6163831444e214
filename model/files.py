"""Staged writes: every file the package writes appears whole or not at all.

A set of files is written under temporary hidden names beside their targets
(``.name.partial.ext``, so tools that read the format from the suffix still work) and renamed
into place only when every file of the set has been written; an error on the way removes
what was staged. A process killed meanwhile leaves only hidden ``.*.partial*`` files, which
:func:`remove_staged` clears (a resumed sweep does so before it continues).

Usage::

    with staged() as files:
        pq.write_table(table, files.path(out / "runs.parquet"))
        files.json(out / "summary.json", summary)
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STAGED_GLOB = ".*.partial*"
"""The pattern of a staged (not yet renamed) file's name."""


def staged_name(final: Path) -> Path:
    """The temporary name ``final`` is written under: hidden, in the same folder."""
    return final.with_name(f".{final.stem}.partial{final.suffix}")


class FileSet:
    """Files written under temporary names, renamed into place together by :meth:`commit`."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def path(self, final: Path) -> Path:
        """A temporary name to write ``final`` to (its folder is created if missing)."""
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        staged = staged_name(final)
        self._staged.append((staged, final))
        return staged

    def text(self, final: Path, text: str) -> Path:
        """Stage a text file; returns ``final``."""
        self.path(final).write_text(text)
        return Path(final)

    def json(self, final: Path, data: Any) -> Path:
        """Stage a JSON file (indented by two, with a final newline); returns ``final``."""
        return self.text(final, json.dumps(data, indent=2) + "\n")

    def parquet(self, final: Path, table: Any, **options: Any) -> Path:
        """Stage a Parquet file (``options`` go to ``pyarrow.parquet.write_table``)."""
        import pyarrow.parquet as pq

        pq.write_table(table, self.path(final), **options)
        return Path(final)

    def commit(self) -> None:
        """Rename every staged file into place, in the order staged."""
        for staged, final in self._staged:
            staged.replace(final)
        self._staged = []

    def discard(self) -> None:
        """Remove whatever was staged."""
        for staged, _ in self._staged:
            staged.unlink(missing_ok=True)
        self._staged = []


@contextmanager
def staged() -> Iterator[FileSet]:
    """A set of files committed when the block ends, discarded if it raises."""
    files = FileSet()
    try:
        yield files
    except BaseException:
        files.discard()
        raise
    files.commit()


def write_text(final: Path, text: str) -> Path:
    """Write one text file, staged."""
    with staged() as files:
        return files.text(final, text)


def write_json(final: Path, data: Any) -> Path:
    """Write one JSON file (indented by two, with a final newline), staged."""
    with staged() as files:
        return files.json(final, data)


def remove_staged(folder: Path, pattern: str = STAGED_GLOB) -> None:
    """Delete staged files a killed process left in ``folder`` (``pattern`` may hold ``*/``)."""
    for stray in Path(folder).glob(pattern):
        stray.unlink()
