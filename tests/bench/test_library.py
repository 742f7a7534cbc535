"""The certified instance library: coverage, every shipped certificate verified independently,
corruption detected with the violated row named, values against independent references."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import mmot_models as mm
from mmot_models.bench import INSTANCES, get_instance, instance_names, load_certificate
from mmot_models.bench.check import verify_certificate
from mmot_models.bench.library import DATA_DIR
from mmot_models.errors import MMOTInputError

#: Shipped data must stay small.
MAX_TOTAL_BYTES = 2 * 1024 * 1024
#: N = 2 certified values against POT's network simplex.
POT_RTOL = 1e-9


def test_coverage_of_the_library():
    assert len(INSTANCES) >= 30
    shipped = instance_names(shipped=True)
    assert len(shipped) >= 30
    probs = [get_instance(n).generate() for n in shipped]
    assert {p.dim for p in probs} == {1, 2, 3}
    assert {i.spec["density"] for i in INSTANCES} == {"uniform", "gaussian", "random", "atomic"}
    Ns = {p.n_marginals for p in probs}
    assert min(Ns) == 2 and max(Ns) == 30
    assert {p.cost.kind for p in probs} == {"coulomb", "soft_coulomb", "power"}
    total = sum(f.stat().st_size for f in DATA_DIR.glob("*.npz"))
    assert total < MAX_TOTAL_BYTES
    assert sorted(f.stem for f in DATA_DIR.glob("*.npz")) == sorted(shipped)


@pytest.mark.parametrize("name", instance_names(shipped=True))
def test_shipped_certificate_verifies(name):
    cert = load_certificate(name)
    v = verify_certificate(cert)
    assert v.ok, v.failures
    assert v.lower_bound <= cert.value <= v.upper_bound


def test_corrupted_shipped_weight_fails_naming_the_row(tmp_path):
    name = "gaussian-1d-l24-N3"
    src = DATA_DIR / f"{name}.npz"
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["plan_weights"] = arrays["plan_weights"].copy()
    arrays["plan_weights"][7] += 1e-6
    bad = tmp_path / f"{name}.npz"
    np.savez_compressed(bad, **arrays)
    cert = load_certificate(name, bad)
    v = verify_certificate(cert)
    assert not v.ok
    row = int(arrays["plan_indices"][7, 0])
    assert any(f.startswith(f"marginal 0 row {row} ") for f in v.failures), v.failures


def test_n2_values_match_pot():
    ot = pytest.importorskip("ot")
    for name in instance_names(shipped=True):
        cert = load_certificate(name)
        p = cert.problem
        if p.n_marginals != 2:
            continue
        w = p.marginals[0].weights
        C = p.pair_matrix(0, 0)
        C = np.where(np.isfinite(C), C, 1e12)
        assert cert.value == pytest.approx(ot.emd2(w, w, C), rel=POT_RTOL, abs=1e-12), name


def test_uniform_closed_forms():
    # N = 2 uniform Coulomb on [-4, 4]: co-motion x -> x + 4, value 1/4 (any midpoint grid)
    assert load_certificate("uniform-1d-l20-N2").value == pytest.approx(0.25, rel=1e-12)
    # attractive power cost with equal marginals: everything on the diagonal, value 0
    assert load_certificate("gaussian-1d-l20-N3-power2").value == pytest.approx(0.0, abs=1e-12)


def test_unknown_instance_suggests():
    with pytest.raises(MMOTInputError, match="uniform-1d-l20-N2"):
        get_instance("uniform-1d-l20-n2")


def test_cli_bench(capsys):
    from mmot_models.cli import main

    assert main(["bench", "verify", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and sum(i["ok"] is True for i in doc["instances"]) == len(instance_names(shipped=True))
    assert all(i["regenerates"] for i in doc["instances"] if i["ok"] is not None)
    assert main(["bench", "run", "--method", "colgen", "uniform-1d-l20-N3", "atomic-3d-10-N2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert all(abs(r["error_rel"]) < 1e-8 and r["bracket_ok"] for r in rows)
    assert main(["bench", "run", "--method", "colgen", "--option", "tl=1", "uniform-1d-l20-N3"]) == 2


@pytest.mark.slow
def test_generated_instances_certify():
    from mmot_models.bench import verify_instance

    for name in instance_names(shipped=False):
        r = verify_instance(name, generated=True)
        assert r["ok"], r["failures"]
