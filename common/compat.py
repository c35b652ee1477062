"""Python 3.8 support for the robot side (the Go2 EDU Jetson's Ubuntu 20.04 ships 3.8).

robots/, safety/ and deploy/ (not deploy/sim/) run on 3.8 and on 3.10+; the few newer builtins
they use live here once. Training, export and the simulator need 3.10+ (torch, mujoco), and
`require_python` makes their entry points say so instead of failing somewhere inside an import.
"""

from __future__ import annotations

import ast
import itertools
import sys
import types
import typing
from collections.abc import Iterable, Iterator
from typing import Any

from common.cli import EXIT_USER_ERROR

# `X | Y` in an evaluated annotation is types.UnionType on 3.10+; 3.8 has typing.Union only.
UNION_TYPES: tuple[Any, ...] = (typing.Union, getattr(types, "UnionType", typing.Union))

# Builtins that PEP 585 made subscriptable in 3.9, and their typing aliases for older versions.
_GENERIC_ALIASES = {"tuple": "Tuple", "list": "List", "dict": "Dict", "set": "Set",
                    "frozenset": "FrozenSet", "type": "Type"}  # fmt: skip


def zip_strict(*iterables: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """`zip(*iterables, strict=True)`: a ValueError when the lengths differ (3.10+ builtin)."""
    if sys.version_info >= (3, 10):
        return zip(*iterables, strict=True)
    return _zip_strict(*iterables)


def _zip_strict(*iterables: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    missing = object()
    for items in itertools.zip_longest(*iterables, fillvalue=missing):
        if any(item is missing for item in items):
            raise ValueError("zip_strict() arguments have different lengths")
        yield items


def type_hints(cls: type) -> dict[str, Any]:
    """`typing.get_type_hints(cls)`, also on 3.8 where the annotation strings of a dataclass may
    use `X | None` and `tuple[int, ...]`, which 3.8 cannot evaluate as written."""
    if sys.version_info >= (3, 10):
        return typing.get_type_hints(cls)
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):  # later classes override, as in get_type_hints
        namespace = {**vars(sys.modules[klass.__module__]), "__typing__": typing}
        for name, hint in klass.__dict__.get("__annotations__", {}).items():
            hints[name] = _eval_annotation(hint, namespace) if isinstance(hint, str) else hint
    return hints


def _eval_annotation(text: str, namespace: dict[str, Any]) -> Any:
    tree = _OldTyping().visit(ast.parse(text, mode="eval"))
    return eval(compile(ast.fix_missing_locations(tree), "<annotation>", "eval"), namespace)


class _OldTyping(ast.NodeTransformer):
    """Rewrites `A | B` to `typing.Union[A, B]` and `tuple[...]` (etc.) to `typing.Tuple[...]`."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.op, ast.BitOr):
            return node
        members = ast.Tuple(elts=[node.left, node.right], ctx=ast.Load())
        return ast.Subscript(value=_typing("Union"), slice=ast.Index(value=members), ctx=ast.Load())

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id in _GENERIC_ALIASES:
            node.value = _typing(_GENERIC_ALIASES[node.value.id])
        return node


def _typing(name: str) -> ast.Attribute:
    return ast.Attribute(value=ast.Name(id="__typing__", ctx=ast.Load()), attr=name, ctx=ast.Load())


def require_python(what: str, minimum: tuple[int, int] = (3, 10)) -> None:
    """Exit 2 with one sentence when this interpreter is older than `minimum` (call it first
    thing in a package or entry point that needs torch or mujoco)."""
    if sys.version_info[:2] >= minimum:
        return
    have = ".".join(str(v) for v in sys.version_info[:3])
    print(f"{what}: error: needs Python {minimum[0]}.{minimum[1]} or newer, this is Python {have}; "
          "on Python 3.8 only the robot side runs (genpo-deploy, genpo-replay; README: Install "
          "on the robot).", file=sys.stderr)  # fmt: skip
    raise SystemExit(EXIT_USER_ERROR)
