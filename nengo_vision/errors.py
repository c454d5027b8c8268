"""Errors that reach the user as one line and exit status 2."""


class UsageError(Exception):
    """A problem with what the user asked for: bad option, missing data, bad cache.

    The message is a single line that says what to change. The command-line
    interface prints it without a traceback and exits with status 2.
    """

    exit_status = 2
