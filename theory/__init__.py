"""The mathematics of greedy subnetwork selection as code (docs/THEORY.md): bounds P1-P8,
hull geometry, rate fitting and the papers' claims as predicates. Never imports ``sims``."""

from theory import bounds, claims, geometry, rates

__all__ = ["bounds", "claims", "geometry", "rates"]
