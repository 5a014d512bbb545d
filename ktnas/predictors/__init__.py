"""Performance predictors used by low-fidelity searches (docs/method.md §6.2); torch is imported per module."""
