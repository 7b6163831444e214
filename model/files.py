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

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STAGED_GLOB = ".*.partial*"
"""The pattern of a staged (not yet renamed) file's name."""


def staged_name(final: Path) -> Path:
    """The temporary name ``final`` is written under: hidden, in the same folder."""
    return final.with_name(f".{final.stem}.partial{final.suffix}")


COMPLETE = "complete.json"
"""The marker a finished results folder holds: each file's size and digest, written last."""


class FileSet:
    """Files written under temporary names, renamed into place together by :meth:`commit`.

    Args:
        complete: A results folder the set completes. Its marker (:data:`COMPLETE`) is removed
            before the first file is renamed and written, listing every file's size and
            sha256, after the last: a folder killed between the two is marked incomplete by
            the marker's absence, never a mixture that looks finished.
    """

    def __init__(self, complete: Path | None = None) -> None:
        self._staged: list[tuple[Path, Path]] = []
        self.complete = None if complete is None else Path(complete)

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
        """Rename every staged file into place, in the order staged (then the marker)."""
        if self.complete is not None:
            (self.complete / COMPLETE).unlink(missing_ok=True)
        renamed = []
        for staged, final in self._staged:
            staged.replace(final)
            renamed.append(final)
        self._staged = []
        if self.complete is not None:
            marker = {"files": {f.name: file_record(f) for f in renamed}}
            write_json(self.complete / COMPLETE, marker)

    def discard(self) -> None:
        """Remove whatever was staged."""
        for staged, _ in self._staged:
            staged.unlink(missing_ok=True)
        self._staged = []


def file_record(path: Path) -> dict[str, Any]:
    """A file's size and sha256, as a completion marker lists them."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return {"bytes": Path(path).stat().st_size, "sha256": digest.hexdigest()}


def verify_complete(folder: Path) -> dict[str, Any]:
    """Check a results folder's completion marker against its files.

    Returns:
        The marker.

    Raises:
        InputError: If the folder is not marked complete, or a file is missing or differs from
            what the marker lists (a write that was cut short, a file changed since).
    """
    from multivector.errors import InputError

    folder = Path(folder)
    marker = folder / COMPLETE
    if not marker.is_file():
        raise InputError(
            folder,
            "",
            f"is not complete (no {COMPLETE}): the run that wrote it did not finish; run it again",
        )
    try:
        found = json.loads(marker.read_text())
        listed = dict(found["files"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(marker, "", f"cannot be read: {error}") from None
    for name, record in listed.items():
        path = folder / name
        if not path.is_file():
            raise InputError(path, "", f"is missing, though {COMPLETE} lists it")
        if file_record(path) != record:
            raise InputError(path, "", f"differs from what {COMPLETE} records: run it again")
    return found


@contextmanager
def staged(complete: Path | None = None) -> Iterator[FileSet]:
    """A set of files committed when the block ends, discarded if it raises.

    Args:
        complete: The results folder the set completes (see :class:`FileSet`).
    """
    files = FileSet(complete)
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


# --- the output folder: checked before any work, locked while written ----------------------

LOCK_NAME = ".multivector.lock"
"""The hidden file a writer holds an exclusive lock on while it writes a results folder."""

_HELD: set[Path] = set()
"""Folders this process holds the lock of (a lock taken again by its holder is a no-op)."""


def _existing_ancestor(folder: Path) -> Path:
    """``folder`` itself if it exists, else its nearest existing parent."""
    probe = Path(folder).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def check_output_folder(folder: Path, need_bytes: int = 0) -> None:
    """Refuse, before any work, an output folder that cannot take the results.

    The folder must be a folder (or creatable: its nearest existing parent a writable folder)
    and the filesystem must have ``need_bytes`` free.

    Raises:
        InputError: Naming the folder and the problem (with the figures for space).
    """
    from multivector.errors import InputError

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(folder, "", "is not a folder")
    base = _existing_ancestor(folder)
    if not base.is_dir():
        raise InputError(folder, "", f"cannot be created: {base} is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        what = "is not writable" if base == folder.absolute() else f"cannot be created in {base}"
        raise InputError(folder, "", f"{what}: permission denied")
    free = shutil.disk_usage(base).free
    if need_bytes > free:
        raise InputError(
            folder,
            "",
            f"not enough free space: the results need about {human_bytes(need_bytes)}, "
            f"{human_bytes(free)} is free",
        )


def human_bytes(count: float) -> str:
    """A byte count for people: ``1.5 GB``."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


@contextmanager
def folder_lock(folder: Path) -> Iterator[Path]:
    """Hold an exclusive lock on a results folder (created if missing) while writing it.

    A second writer into the same folder is refused at once, so two runs never interleave
    their files. The lock is an advisory ``flock`` on a hidden file in the folder, released
    when the block ends or the process dies (the kernel drops it: no stale locks).

    Raises:
        InputError: If another process holds the folder, or it cannot be created.
    """
    import fcntl

    from multivector.errors import InputError

    folder = Path(folder)
    key = folder.absolute()
    if key in _HELD:  # this process holds it already (a command that locked before its run)
        yield folder
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise InputError(folder, "", f"cannot be created: {error.strerror or error}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"
            raise InputError(
                folder,
                "",
                f"is being written by another multivector process (pid {holder}): "
                "wait for it to finish or choose another --out",
            ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        _HELD.add(key)
        try:
            yield folder
        finally:
            _HELD.discard(key)
    finally:
        os.close(handle)  # closing drops the lock


@contextmanager
def claimed(folder: Path, need_bytes: int = 0) -> Iterator[Path]:
    """A results folder checked, created and locked while the block writes it.

    If the block fails having written nothing into a folder it created, the folder is removed
    again (a full disk leaves no empty folder behind). The checks (:func:`check_output_folder`)
    come before any work, so a bad ``--out`` is refused at once instead of after the run; a
    second writer is refused by the lock.
    """
    folder = Path(folder)
    check_output_folder(folder, need_bytes)
    created = not folder.exists()
    try:
        with folder_lock(folder):
            yield folder
    except BaseException:
        if created:
            _remove_if_unused(folder)
        raise


def _remove_if_unused(folder: Path) -> None:
    """Remove a folder that holds nothing but its lock and staged leftovers."""
    try:
        leftovers = list(folder.iterdir())
        if all(p.name == LOCK_NAME or p.match(STAGED_GLOB) for p in leftovers):
            for path in leftovers:
                path.unlink()
            folder.rmdir()
    except OSError:
        pass  # best effort: a full or read-only disk may refuse even this
