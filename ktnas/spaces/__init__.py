"""Search spaces, one module each, all implementing :class:`ktnas.spaces.base.SearchSpace`."""

from __future__ import annotations

from ktnas.spaces.base import SearchSpace
from ktnas.spaces.darts import DartsSpace
from ktnas.spaces.nb201 import NB201Space
from ktnas.spaces.trans101 import Trans101Space

SPACES: dict[str, type[SearchSpace]] = {
    "nb201": NB201Space,
    "trans101": Trans101Space,
    "darts": DartsSpace,
}


def get_space(name: str) -> SearchSpace:
    """The search space registered under ``name``."""
    try:
        return SPACES[name]()
    except KeyError:
        raise ValueError(f"unknown search space {name!r}; choose one of {', '.join(SPACES)}") from None


__all__ = ["SPACES", "SearchSpace", "get_space"]
