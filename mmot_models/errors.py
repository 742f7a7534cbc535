"""Exceptions raised by ``mmot_models``.

Every exception that signals *bad input* derives from :class:`MMOTInputError`
(a :class:`ValueError`), so the command line can turn it into a one-line
``error: ...`` message and exit code 2 without a traceback.
"""
from __future__ import annotations

__all__ = ["MMOTInputError", "ProblemTooLargeError", "InfeasibleProblemError", "MethodNotAvailableError"]


class MMOTInputError(ValueError):
    """Bad input: the message names the problem and the fix."""


class ProblemTooLargeError(MMOTInputError):
    """The requested formulation would not fit in memory; the message names a better method."""


class InfeasibleProblemError(MMOTInputError):
    """No plan with finite cost exists (e.g. a site heavier than 1/N under the Coulomb cost)."""


class MethodNotAvailableError(MMOTInputError):
    """The method is unknown or does not apply to this problem."""
