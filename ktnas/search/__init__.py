"""The paper's multi-task evolutionary loop (Algorithm 4; docs/reproduction.md §2) and its parts.

- :mod:`~ktnas.search.multitask`: the loop itself (:class:`~ktnas.search.multitask.MultiTaskSearch`);
- :mod:`~ktnas.search.policies` and :mod:`~ktnas.search.selectors`: the transfer policies it runs with
  (transfer rank, and the no-transfer, random, EMT-NAS, MTNAS and transfer-study variants);
- :mod:`~ktnas.search.transfer`: the historical transferred set and the ranking (Algorithms 2–3);
- :mod:`~ktnas.search.reproduction`: the offspring operators a recipe picks (proxy REA, GA, predictor);
- :mod:`~ktnas.search.problem`, :mod:`~ktnas.search.base`, :mod:`~ktnas.search.checkpoint`: the problem
  protocol, individuals and selection, and resumable state.

The single-task comparison methods (random search, REA, the predictor searches) live in
:mod:`ktnas.baselines`; both are listed in :data:`ktnas.methods.METHODS`.
"""
