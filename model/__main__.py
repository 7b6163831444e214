"""Allow ``python -m model``."""

from model.cli import app

app()
