"""Performance predictors used by low-fidelity searches (spec §6.2); torch is imported per module."""
