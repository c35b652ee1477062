"""common.cli: what every command-line tool does with a user mistake and a closed stdout."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from common.cli import EXIT_BROKEN_PIPE, EXIT_USER_ERROR, user_errors_exit
from common.errors import UserError


def test_a_user_error_is_one_sentence_and_exit_2(capsys) -> None:
    @user_errors_exit("prog")
    def main() -> int:
        raise UserError("no such file 'x'")

    assert main() == EXIT_USER_ERROR
    assert capsys.readouterr().err == "prog: error: no such file 'x'\n"


def test_a_reader_that_closes_the_pipe_ends_the_tool_quietly() -> None:
    script = textwrap.dedent("""
        from common.cli import user_errors_exit

        @user_errors_exit("prog")
        def main() -> int:
            for i in range(100000):
                print("line", i)
            return 0

        raise SystemExit(main())
    """)
    pipeline = f"{sys.executable} -c '{script}' | head -n 1; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, timeout=60)
    assert done.stdout == "line 0\n"
    assert done.stderr == ""  # no traceback, no "Exception ignored ... BrokenPipeError"
    assert done.returncode == EXIT_BROKEN_PIPE
