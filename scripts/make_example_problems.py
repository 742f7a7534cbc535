"""Write the small problems shipped under ``examples/problems/`` (run from the repository root).

Every file is written with the package's own :func:`mmot_models.save_problem`, so the shipped
files follow the documented JSON / NPZ layout (see :mod:`mmot_models.io`).  The problems are tiny
on purpose: each solves with every applicable method in well under a second.
"""
from __future__ import annotations

from pathlib import Path

import mmot_models as mm

OUT = Path(__file__).resolve().parents[1] / "examples" / "problems"


def problems() -> dict[str, mm.MMOTProblem]:
    """The shipped problems by file stem."""
    gauss = mm.gaussian(mm.line(-3.0, 3.0, 12, midpoints=True))
    return {
        # 3 electrons, Gaussian density on 12 midpoints of [-3, 3], Coulomb (the README's example)
        "gaussian_n3": mm.MMOTProblem.symmetric(gauss, 3, "coulomb", name="gaussian_n3"),
        # two different marginals (N = 2): uniform on [0, 1] and a Gaussian on [-1, 2]
        "unequal_n2": mm.MMOTProblem((mm.uniform(mm.line(0.0, 1.0, 8, midpoints=True)),
                                      mm.gaussian(mm.line(-1.0, 2.0, 10, midpoints=True), mean=0.5)),
                                     "coulomb", name="unequal_n2"),
        # 2D: 2 electrons, Gaussian on a 4 x 4 grid of [-1, 1]^2, Coulomb
        "grid2d_n2": mm.MMOTProblem.symmetric(mm.gaussian(mm.box([-1.0, -1.0], [1.0, 1.0], [4, 4],
                                                                 midpoints=True)),
                                              2, "coulomb", name="grid2d_n2"),
        # 1D soft Coulomb 1/sqrt(r^2 + a^2), a = 0.5, 3 electrons on 10 points
        "soft_coulomb_n3": mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-2.0, 2.0, 10)), 3,
                                                    {"kind": "soft_coulomb", "a": 0.5},
                                                    name="soft_coulomb_n3"),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for stem, problem in problems().items():
        for suffix in (".json", ".npz"):
            print(mm.save_problem(problem, OUT / f"{stem}{suffix}"))


if __name__ == "__main__":
    main()
