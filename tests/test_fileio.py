"""Output files: checked before work, written atomically, links kept, devices never replaced,
umask and existing modes respected, no temporary file left behind (also on SIGTERM)."""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import mmot_models as mm
from mmot_models.cli import EXIT_TERMINATED, main
from mmot_models.fileio import (TEMP_SUFFIX, WRITE_DELAY_ENV, atomic_savefig, atomic_write, atomic_write_text,
                                check_output_path)

ROOT = Path(__file__).resolve().parents[1]
#: Seconds the test hook sleeps inside a write (the SIGTERM arrives during this sleep).
WRITE_DELAY_S = 30.0
#: Longest wait for the child to reach the middle of its write / to exit.
CHILD_TIMEOUT_S = 60.0
SIGTERM_RUNS = 3


@pytest.fixture
def problem() -> mm.MMOTProblem:
    return mm.MMOTProblem.symmetric(mm.uniform(mm.line(0, 1, 6, midpoints=True)), 3, "coulomb")


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _temporaries(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(TEMP_SUFFIX))


def test_new_file_respects_umask(tmp_path, problem, umask022):
    """Regression: files were created 0600 (mkstemp) whatever the umask."""
    path = mm.save_problem(problem, tmp_path / "p.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.umask(0o077)
    atomic_write_text(tmp_path / "q.json", "{}")
    assert stat.S_IMODE((tmp_path / "q.json").stat().st_mode) == 0o600


def test_existing_file_keeps_its_mode(tmp_path, problem, umask022):
    path = tmp_path / "p.npz"
    path.write_bytes(b"old")
    path.chmod(0o640)
    mm.save_problem(problem, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert mm.load_problem(path).n_marginals == 3


def test_symlink_is_followed_and_kept(tmp_path, problem):
    """Regression: the link was replaced by a regular file and its target left stale."""
    real = tmp_path / "sub" / "real.json"
    real.parent.mkdir()
    real.write_text("stale")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    mm.save_problem(problem, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["n_marginals"] == 3
    assert _temporaries(tmp_path) == [] and _temporaries(real.parent) == []


@pytest.fixture
def null_device(tmp_path) -> Path:
    """A character device to write to.  As root, a private null device (major 1, minor 3) in
    ``tmp_path``, so a regression replaces that node and never the machine's ``/dev/null``;
    otherwise ``/dev/null`` itself (which a non-root process cannot replace)."""
    if os.geteuid() != 0:
        return Path("/dev/null")
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except OSError as exc:  # pragma: no cover - no CAP_MKNOD
        pytest.skip(f"cannot create a device node to test safely as root: {exc}")
    return node


def test_device_is_written_through_not_replaced(null_device, tmp_path, problem, capsys):
    """Regression: --output /dev/null renamed a temporary file over the device (as root)."""
    before = os.stat(null_device)
    assert stat.S_ISCHR(before.st_mode)
    try:
        atomic_write_text(null_device, "{}")
        src = mm.save_problem(problem, tmp_path / "p.json")
        code = main(["solve", str(src), "--method", "primal", "--output", str(null_device)])
        capsys.readouterr()
        assert code == 0
    except mm.MMOTInputError as exc:  # a file system mounted nodev refuses to open the node: fine
        assert "cannot write" in str(exc)
    after = os.stat(null_device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
    assert _temporaries(null_device.parent) == []


def test_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic_write_text(fifo, '{"a": 1}')
    reader.join(timeout=CHILD_TIMEOUT_S)
    assert got == [b'{"a": 1}'] and stat.S_ISFIFO(fifo.lstat().st_mode)
    assert _temporaries(tmp_path) == []


def test_refused_targets(tmp_path):
    with pytest.raises(mm.MMOTInputError, match="does not exist"):
        check_output_path(tmp_path / "nodir" / "x.json", what="--output")
    with pytest.raises(mm.MMOTInputError, match="is a directory"):
        check_output_path(tmp_path, what="--output")
    with pytest.raises(mm.MMOTInputError, match="not a figure format"):
        check_output_path(tmp_path / "p.xyz", what="--plot", plot=True)
    with pytest.raises(mm.MMOTInputError, match="no file extension"):
        check_output_path(tmp_path / "p", what="--plot", plot=True)
    with pytest.raises(mm.MMOTInputError, match="cannot create a file"):
        check_output_path("/proc/mmot_never.json", what="--output")
    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        with pytest.raises(mm.MMOTInputError, match="socket"):
            check_output_path(sock_path)
        with pytest.raises(mm.MMOTInputError, match="socket"):
            atomic_write_text(sock_path, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sock"]


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")

    def boom(fh):
        fh.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, boom)
    assert target.read_text() == "old" and _temporaries(tmp_path) == []


def test_savefig_format_from_suffix(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    atomic_savefig(fig, tmp_path / "f.svg")
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")
    fig2, _ = plt.subplots()
    with pytest.raises(mm.MMOTInputError, match="figure format"):
        atomic_savefig(fig2, tmp_path / "f.bogus")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.svg"]


def test_outputs_checked_before_work(tmp_path, problem, capsys):
    """Regression: --output ok.json --plot /nodir/p.png left ok.json and a traceback."""
    src = mm.save_problem(problem, tmp_path / "p.json")
    before = sorted(tmp_path.iterdir())
    code = main(["solve", str(src), "--output", str(tmp_path / "ok.json"), "--plot", str(tmp_path / "no" / "p.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --plot") and len(err.strip().splitlines()) == 1
    assert sorted(tmp_path.iterdir()) == before


def _spawn(args: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mmot_models.cli", *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(child: subprocess.Popen) -> str:
    try:
        _, err = child.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        if child.poll() is None:
            child.kill()
    return err


def _has_nonempty_temporary(d):
    """A non-empty temporary exists in ``d`` (a file may vanish between listing and stat: renamed)."""
    for p in d.iterdir():
        try:
            if p.name.endswith(TEMP_SUFFIX) and p.stat().st_size > 0:
                return True
        except FileNotFoundError:
            continue
    return False


def test_sigterm_during_write_leaves_no_temporary(tmp_path, problem):
    """Regression: SIGTERM in the middle of a write left truncated tmp*.json files.

    The test hook makes each child sleep after writing half of its output; the SIGTERM arrives
    while a non-empty temporary file exists.  Each child must exit 143 with one ``error:`` line,
    leaving neither the temporary nor a partial target.  The children run side by side."""
    src = mm.save_problem(problem, tmp_path / "p.json")
    dirs = [tmp_path / f"out{k}" for k in range(SIGTERM_RUNS)]
    children = []
    for d in dirs:
        d.mkdir()
        children.append(_spawn(["solve", str(src), "--method", "primal", "--output", str(d / "sol.json")],
                               **{WRITE_DELAY_ENV: str(WRITE_DELAY_S)}))
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        pending = dict(zip(dirs, children))
        while pending:
            for d, child in list(pending.items()):
                assert child.poll() is None, child.stderr.read()
                if _has_nonempty_temporary(d):
                    child.send_signal(signal.SIGTERM)
                    del pending[d]
            assert time.monotonic() < deadline, "a child never reached the middle of its write"
            time.sleep(0.01)
        errs = [_finish(c) for c in children]
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
    for d, child, err in zip(dirs, children, errs):
        assert child.returncode == EXIT_TERMINATED, err
        # native banners (HiGHS) may precede it on stderr: the package's own words are one error line
        errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
        assert errors and errors[0].startswith("error: terminated") and len(errors) == 1 and "Traceback" not in err
        assert list(d.iterdir()) == []


@pytest.mark.slow
def test_sigterm_inside_a_native_solve_ends_the_process(tmp_path):
    """A HiGHS run only returns to Python when done; the watchdog ends the process within the grace time."""
    from mmot_models.cli import TERM_GRACE_S

    big = mm.save_problem(mm.MMOTProblem.symmetric(mm.gaussian(mm.line(-3, 3, 40)), 4, "coulomb"), tmp_path / "b.json")
    out = tmp_path / "out"
    out.mkdir()
    child = _spawn(["solve", str(big), "--method", "primal", "--output", str(out / "sol.json")])
    time.sleep(10.0)  # building the 2.6M-column LP and entering HiGHS (the solve takes minutes)
    assert child.poll() is None
    t0 = time.monotonic()
    child.send_signal(signal.SIGTERM)
    err = _finish(child)
    assert time.monotonic() - t0 < TERM_GRACE_S + 5.0
    assert child.returncode == EXIT_TERMINATED and "\nerror: terminated" in "\n" + err, err
    assert list(out.iterdir()) == []
