"""--scheduler: each image a task on a Dask cluster (a LocalCluster started by the test, processes on this machine)."""

import json
import os
import signal
import threading
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SAMPLES, json_lines
from kernelgan.errors import InputError
from kernelgan.io import read_image, write_image
from kernelgan_cli.app import app

pytest.importorskip("dask.distributed")
runner = CliRunner()


@pytest.fixture()
def photos(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    zebra = read_image(SAMPLES / "zebra.png")
    for i in range(4):
        write_image(d / f"p{i}.png", zebra[20 * i:20 * i + 100, 30 * i:30 * i + 120])
    return d


@pytest.mark.slow
def test_local_cluster_gives_the_serial_kernels_bit_for_bit_and_a_bad_file_fails_alone(tmp_path, photos):
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    args = ["estimate", str(photos), "-e", "kernelgan", "--iters", "40", "--json"]
    serial = runner.invoke(app, [*args, "-o", str(tmp_path / "serial")])
    dask = runner.invoke(app, [*args, "-o", str(tmp_path / "dask"), "--scheduler", "local"])
    assert serial.exit_code == 1 and dask.exit_code == 1
    events = {e["image"].rsplit("/", 1)[-1]: e["status"] for e in json_lines(dask.output)}
    assert events == {"broken.png": "failed", "p0.png": "ok", "p1.png": "ok", "p2.png": "ok", "p3.png": "ok"}
    for i in range(4):
        name = f"p{i}_kernel_x2.npy"
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_never_leaves_a_half_set(tmp_path, photos):
    """One worker process is SIGKILLed mid-run; the scheduler reruns its task elsewhere; every set is whole."""
    import functools

    from dask.distributed import Client

    from kernelgan.distributed import run_tasks
    from kernelgan.estimator.registry import get_estimator
    from kernelgan.jobs import estimate_file

    zebra = read_image(SAMPLES / "zebra.png")
    for i in range(4, 8):
        write_image(photos / f"p{i}.png", zebra[10 * i:10 * i + 110, 20 * i:20 * i + 120])
    out = tmp_path / "out"
    out.mkdir()
    paths = sorted(photos.glob("*.png"))
    work = functools.partial(estimate_file, output=out, scale=2, estimator="kernelgan",
                             config=get_estimator("kernelgan").config.with_overrides(iters=150))
    with Client(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as client:
        pids = list(client.run(os.getpid).values())
        killer = threading.Timer(4.0, os.kill, (pids[0], signal.SIGKILL))
        killer.start()
        events = list(run_tasks(client, paths, work))
        killer.join()
        assert pids[0] not in client.run(os.getpid).values()  # the worker did die (its nanny started another)
    assert len(events) == len(paths)
    assert all(e["status"] == "ok" for e in events), events
    for p in paths:
        record = json.loads((out / f"{p.stem}.json").read_text())
        assert all((out / name).is_file() for name in record["kernels"]["x2"])
        assert np.load(out / f"{p.stem}_kernel_x2.npy").shape == (13, 13)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_workers_that_cannot_see_the_files_are_refused(tmp_path):
    from kernelgan.distributed import _missing, check_shared

    class OneWorker:
        def run(self, function, paths):
            return {"tcp://10.0.0.7:4000": function([*paths, "/no/such/mount/photo.png"])}

    assert _missing([str(tmp_path), "/no/such/file"]) == ["/no/such/file"]
    with pytest.raises(InputError, match="tcp://10.0.0.7:4000 cannot see /no/such/mount/photo.png"):
        check_shared(OneWorker(), [], tmp_path)


def test_without_dask_the_option_says_how_to_install_it(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    result = runner.invoke(app, ["estimate", str(SAMPLES / "zebra.png"), "-o", str(tmp_path), "--scheduler", "local"])
    assert result.exit_code == 2 and "pip install 'kernelgan[dask]'" in result.output


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line(tmp_path):
    start = time.perf_counter()
    result = runner.invoke(app, ["degrade", str(SAMPLES / "hr" / "zebra.png"), "-o", str(tmp_path),
                                 "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2 and "cannot reach the Dask scheduler" in result.output
    assert time.perf_counter() - start < 60
