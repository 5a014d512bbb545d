"""Search-space recipes, one module each, found by name (docs/reproduction.md §3).

Adding a space means one recipe module (a :class:`~ktnas.recipes.base.Recipe` subclass) and one line
here, plus its tables (:mod:`ktnas.report.spaces`); the plan, the runner and the CLI read only the
protocol.
"""

from __future__ import annotations

from ktnas.recipes.base import Recipe, SearchPaths, Setup
from ktnas.recipes.darts import DartsRecipe
from ktnas.recipes.nb201 import NB201Recipe
from ktnas.recipes.trans101 import Trans101Recipe

RECIPES: dict[str, type[Recipe]] = {
    "nb201": NB201Recipe,
    "trans101": Trans101Recipe,
    "darts": DartsRecipe,
}


def get_recipe(name: str) -> Recipe:
    """The recipe registered under ``name``."""
    try:
        return RECIPES[name]()
    except KeyError:
        raise ValueError(f"unknown search space {name!r}; choose one of {', '.join(RECIPES)}") from None


__all__ = ["RECIPES", "Recipe", "SearchPaths", "Setup", "get_recipe"]
