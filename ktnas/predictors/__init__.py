"""Performance predictors used by low-fidelity searches (docs/reproduction.md §3.2); torch is imported per module."""
