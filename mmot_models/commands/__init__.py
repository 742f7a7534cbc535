"""Subcommands of ``mmot`` that drive the physics studies (the application layer: argparse,
printing and figures live here, never in :mod:`mmot_models.physics`)."""
