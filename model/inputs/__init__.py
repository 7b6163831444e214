"""Inputs: validated file formats and what they compile to.

Episodes, structure, parameters, scenarios and experiments. Reads files; runs nothing.
"""
