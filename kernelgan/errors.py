"""Errors a user can cause and fix: the CLI prints them as one line, never as a traceback."""


class KernelganError(Exception):
    """Base class for expected, user-facing failures (bad input, refused overwrite, ...)."""


class InputError(KernelganError):
    """An input file is missing, unreadable, malformed or unsuitable."""


class KernelError(InputError):
    """A kernel is not a finite 2-D array with a positive sum."""


class EstimationError(KernelganError):
    """Training diverged on every try (the input was fine; another seed or estimator may succeed)."""
