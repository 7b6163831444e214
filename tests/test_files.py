"""The staged writer and provenance taken when inputs are read."""

import hashlib
from pathlib import Path

import pytest

from multivector.files import staged, write_json
from multivector.inputs.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def test_a_file_set_appears_whole_or_not_at_all(tmp_path):
    """Nothing is visible before the set is committed; an error leaves nothing behind."""
    with staged() as files:
        files.text(tmp_path / "a.txt", "a")
        files.json(tmp_path / "sub" / "b.json", {"b": 1})
        assert not (tmp_path / "a.txt").exists() and not (tmp_path / "sub" / "b.json").exists()
    assert (tmp_path / "a.txt").read_text() == "a"
    assert (tmp_path / "sub" / "b.json").read_text() == '{\n  "b": 1\n}\n'
    with pytest.raises(RuntimeError), staged() as files:
        files.text(tmp_path / "c.txt", "c")
        raise RuntimeError("failed half-way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "sub"]
    write_json(tmp_path / "a.txt", [1])  # replaces in place
    assert (tmp_path / "a.txt").read_text() == "[\n  1\n]\n"


def test_scenario_is_hashed_as_read_not_after(tmp_path):
    """A scenario file edited after loading is still recorded as it was parsed."""
    original = (ROOT / "scenarios/history_2014_2026.toml").read_bytes()
    path = tmp_path / "history.toml"
    path.write_bytes(original)
    spec = load_scenario(path)
    path.write_bytes(original + b"\n# edited during the run\n")
    assert spec.source is not None and spec.source.file == str(path)
    assert spec.source.sha256 == hashlib.sha256(original).hexdigest()
    framed = spec.model_copy(update={"end": "2015-12"})
    assert framed.source == spec.source
