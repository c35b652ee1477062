"""common.compat: the 3.8 stand-ins behave like the 3.10+ builtins they replace (both arms run
on any Python; the robot-side tier also runs the config loader on 3.8 itself)."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

import pytest

from common.compat import _eval_annotation, _zip_strict, zip_strict


@pytest.mark.parametrize("impl", [zip_strict, _zip_strict])
def test_zip_strict_pairs_equal_lengths_and_refuses_unequal(impl) -> None:
    assert list(impl([1, 2], "ab")) == [(1, "a"), (2, "b")]
    with pytest.raises(ValueError):
        list(impl([1, 2, 3], "ab"))
    with pytest.raises(ValueError):
        list(impl([1], "ab"))


@dataclass(frozen=True)
class _Cfg:
    a: float | None = None
    b: tuple[int, ...] = (1,)
    c: dict[str, tuple[float, float]] | None = None
    d: Literal["x", "y"] = "x"


_OLD_SPELLING = {
    "a": typing.Optional[float],  # what 3.8 can evaluate
    "b": typing.Tuple[int, ...],
    "c": typing.Optional[typing.Dict[str, typing.Tuple[float, float]]],
    "d": Literal["x", "y"],
}


@pytest.mark.parametrize("name", sorted(_OLD_SPELLING))
def test_annotation_rewrite_gives_the_typing_spelling_of_the_same_type(name: str) -> None:
    rewritten = _eval_annotation(_Cfg.__annotations__[name], {**globals(), "__typing__": typing})
    assert rewritten == _OLD_SPELLING[name]
