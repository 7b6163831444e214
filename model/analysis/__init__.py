"""Numbers from runs; draws and writes nothing.

Summaries, drift, pattern checks, calibration and its validation, and predictions.
"""
