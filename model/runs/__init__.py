"""Many replicates: scenario runs in chunks, paired comparisons, sweeps (local or Dask)."""
