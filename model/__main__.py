"""Allow ``python -m multivector``."""

from multivector.cli.commands import app

app()
