"""The ``multivector`` command line."""
