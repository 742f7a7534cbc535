"""Sweeps at the issue's scale (slow): 200 tasks on a 2-worker LocalCluster surviving a killed
worker and a Ctrl-C plus restart, and the same spec on a separately started scheduler + workers."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmot_models.studies import parse_spec, sweep
from mmot_models.studies.store import ResultStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: Same certified LP in another process: values agree to this relative tolerance.
SAME_VALUE_RTOL = 1e-9
#: 50 grid sizes x 4 methods = 200 tasks.
SPEC_200 = {"name": "two-hundred", "format": "parquet",
            "problem": {"density": "gaussian", "n_points": list(range(12, 62)), "n_marginals": 2,
                        "domain": [-5.0, 5.0]},
            "methods": ["symmetric", "primal", "dual", {"method": "colgen", "options": {"tol": 1e-9}}]}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    return env


def _assert_same_as_serial(rows, serial):
    assert len(rows) == len(serial)
    assert len({r["key"] for r in rows}) == len(rows)  # every task exactly once
    for r in rows:
        s = serial[r["key"]]
        assert r["status"] == s["status"] == "optimal", (r["error"], s["error"])
        assert math.isclose(r["value"], s["value"], rel_tol=SAME_VALUE_RTOL)


def test_200_tasks_killed_worker_ctrl_c_restart(tmp_path):
    from dask.distributed import Client

    from mmot_models.studies.sweeps import local_cluster

    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SPEC_200))
    out = tmp_path / "out"
    n_tasks = len(parse_spec(SPEC_200).tasks)
    assert n_tasks == 200
    # 1) the CLI run is interrupted with Ctrl-C (SIGINT) once some rows are saved
    proc = subprocess.Popen([sys.executable, "-m", "mmot_models.cli", "sweep", str(spec_file), "--workers", "2",
                             "--output", str(out), "--no-progress"], cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = ResultStore(out)
    deadline = time.time() + 120
    while len(store.done_keys()) < 20 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    done_after_interrupt = len(store.done_keys())
    assert proc.returncode == 130, err[-2000:]
    assert "run the same command again" in err
    assert 20 <= done_after_interrupt < n_tasks
    assert not list(out.glob(".tmp-*"))  # no half-written rows
    # 2) restart; kill a worker process mid-sweep
    cluster = local_cluster(2)
    client = Client(cluster)
    killed = []

    def on_row(row):
        if not killed and len(store.done_keys()) >= done_after_interrupt + 15:
            pids = client.run(os.getpid)
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
    try:
        res = sweep(SPEC_200, out, scheduler=client, on_row=on_row)
    finally:
        client.close()
        cluster.close()
    assert killed, "no worker was killed"
    assert res.n_skipped == done_after_interrupt and res.n_run == n_tasks - done_after_interrupt
    assert len(list(out.glob("part-*.parquet"))) == n_tasks
    # 3) the same values as a serial run
    serial = {r["key"]: r for r in sweep(SPEC_200, tmp_path / "serial", serial=True).rows}
    _assert_same_as_serial(res.rows, serial)


def test_external_scheduler_gives_same_table(tmp_path):
    spec = {**SPEC_200, "problem": {**SPEC_200["problem"], "n_points": list(range(12, 22))}}
    sched_file = tmp_path / "scheduler.json"
    env = _env()
    sched = subprocess.Popen(["dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                              "--scheduler-file", str(sched_file)], cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.time() + 60
        while not sched_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        worker = subprocess.Popen(["dask", "worker", "--scheduler-file", str(sched_file), "--nworkers", "2",
                                   "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"], cwd=tmp_path,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from mmot_models.cli import main
        rc = main(["sweep", str(_write(tmp_path / "s.json", spec)), "--scheduler", address, "--no-progress",
                   "--output", str(tmp_path / "ext")])
        assert rc == 0
    finally:
        for p in (worker, sched):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
    ext = ResultStore(tmp_path / "ext").rows()
    serial = {r["key"]: r for r in sweep(spec, tmp_path / "serial", serial=True).rows}
    assert len(ext) == 40
    _assert_same_as_serial(ext, serial)


def _write(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path
