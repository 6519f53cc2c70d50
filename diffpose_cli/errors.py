"""The one exception users see: a clear, one-line reason (bad input, missing weights, ...).

The CLI prints `error: <message>` and exits non-zero; anything else is a bug and keeps its traceback.
"""


class DiffposeError(Exception):
    """A problem with the user's input or environment, explained in one line."""
