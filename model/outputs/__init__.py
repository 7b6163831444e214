"""Files out, each set written whole or not at all.

A run's Parquet tables and summary, a comparison's drift files, the calibrated parameter file
and the calibration report.
"""
