"""The single-task comparison methods of Tables II and III, one module per method (docs/reproduction.md §4).

Each runs once per task on a tabular benchmark whose problem counts queries
(:class:`~ktnas.evaluator.BenchmarkProblem`), and is registered by ``module:function`` in
:data:`ktnas.methods.METHODS`:

- ``rs`` — :mod:`~ktnas.baselines.random_search`;
- ``rea`` and ``zero`` — :mod:`~ktnas.baselines.rea` (aging evolution, with and without the zero-cost
  warm-up and pre-screen);
- ``gcn`` — :mod:`~ktnas.baselines.neural_predictor`;
- ``lanas``, ``weaknas``, ``nsganetv2`` — the modules of those names.

:mod:`~ktnas.baselines.base` holds what they share with the runner (the task context and the result),
:mod:`~ktnas.baselines.archive` and :mod:`~ktnas.baselines.encoding` what the predictor searches share.
The multi-task loop and its transfer policies are :mod:`ktnas.search`.
"""
