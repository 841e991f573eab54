"""CPU demos: a toy task for TTRL on a tiny model and a bandit check of the convergence analysis."""
