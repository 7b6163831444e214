"""The package installs as ``multivector`` with every sub-package, and its API is importable."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "model"


def test_every_sub_package_is_installed():
    # a normal (non-editable) install copies only the packages pyproject.toml lists
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(("multivector", *init.parent.relative_to(PACKAGE).parts))
        for init in PACKAGE.rglob("__init__.py")
    }
    assert listed == on_disk


def test_the_api_is_the_package_top_level():
    import multivector as mv
    from multivector import api

    for name in mv.API:
        assert getattr(mv, name) is getattr(api, name)
    assert mv.__version__ == __import__("importlib.metadata").metadata.version("multivector")


def test_importing_the_core_does_not_load_the_figures():
    # the API's names are loaded on first use, so a sub-module stays light
    code = "import sys, multivector.core.choice; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_tutorial_is_kept_without_outputs():
    notebook = json.loads((ROOT / "docs" / "tutorial.ipynb").read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code, "the tutorial has no code"
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None
