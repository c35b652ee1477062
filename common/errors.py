"""The one exception type for user mistakes.

A `UserError` is something the person at the keyboard can fix (a wrong path, an unknown robot,
malformed YAML, a corrupt checkpoint, an artifact for another robot). Every CLI catches it, prints
its message as one sentence and exits non-zero; anything else is a bug and may raise.
"""


class UserError(Exception):
    """A mistake in the user's input, reported as one clear sentence without a traceback."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when empty), for one sentence."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
