"""Subcommands of ``mmot`` beyond ``solve``, ``demo`` and ``methods`` (the application layer: argparse,
printing and figures live here, never in the physics, studies or bench modules they drive).

:data:`COMMANDS` lists each subcommand's ``register_cli(subparsers)`` function, referenced directly:
:func:`mmot_models.cli.build_parser` calls them in this order, so a subcommand whose module fails to
import fails loudly instead of disappearing.  To add a command, write ``commands/<name>.py`` with a
``register_cli`` that adds a parser whose ``func`` runs it and returns an exit code, and append it here.
"""
from __future__ import annotations

from typing import Any, Callable

from . import atom, bench, compare, dissociate, sweep, verify

__all__ = ["COMMANDS"]

#: ``register_cli(subparsers)`` of every subcommand module, in the order of ``mmot --help``.
COMMANDS: tuple[Callable[[Any], None], ...] = (
    compare.register_cli,      # mmot compare
    atom.register_cli,         # mmot atom
    dissociate.register_cli,   # mmot dissociate
    sweep.register_cli,        # mmot sweep
    bench.register_cli,        # mmot bench list|run|verify
    verify.register_cli,       # mmot verify
)
