"""Core dynamics of one batch of replicates; reads and writes no file.

The utility function, choice and the vote equilibrium, random streams, the world state, the
Mesa agents and model, and what a run observes.
"""
