"""Each space's tables, found by the space's name: how ``ktnas table`` builds them and how the results page
shows and judges them (:class:`~ktnas.report.results_page.TableSpec`).

A new space adds one table module beside ``nb201.py`` and one line here, under the name of its recipe
(:data:`ktnas.recipes.RECIPES`).
"""

from __future__ import annotations

from ktnas.report import darts, nb201, trans101
from ktnas.report.results_page import TableSpec

#: space -> its tables; the results page shows the spaces with a headline, in this order
TABLES: dict[str, TableSpec] = {
    "nb201": nb201.SPEC,
    "trans101": trans101.SPEC,
    "darts": darts.SPEC,
}


def get_table(space: str) -> TableSpec:
    """The tables of ``space``."""
    try:
        return TABLES[space]
    except KeyError:
        raise ValueError(f"space {space!r} has no tables; choose one of {', '.join(TABLES)}") from None


def page_specs() -> list[TableSpec]:
    """The table specs the results page shows and judges, in registry order."""
    return [spec for spec in TABLES.values() if spec.on_page]
