"""User-facing errors. The CLI prints them as one line and exits with the code given."""

from __future__ import annotations


class BenchError(Exception):
    """A problem the user can fix (bad flag, bad file, port in use): one line, exit code 2."""

    exit_code = 2


class RunFailed(Exception):
    """A run that started but could not finish (server died, load process crashed): exit 1."""

    exit_code = 1

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
