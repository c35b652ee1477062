"""What every command-line tool shares: user mistakes become one sentence and exit code 2."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar  # not collections.abc: F's bound is evaluated, 3.8 too

from robots.errors import UserError

F = TypeVar("F", bound=Callable[..., "int | None"])

EXIT_USER_ERROR = 2


def user_errors_exit(prog: str) -> Callable[[F], F]:
    """Decorate a CLI `main`: a UserError prints `prog: error: message` and returns exit code 2."""

    def wrap(main: F) -> F:
        @functools.wraps(main)
        def run(*args: object, **kwargs: object) -> int | None:
            try:
                return main(*args, **kwargs)
            except UserError as exc:
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return EXIT_USER_ERROR

        return run  # type: ignore[return-value]

    return wrap
