"""Figures: fan and drift charts, sweep figures, and the one palette (``style``)."""
