import json
import os
import socket
import subprocess
import sys

import numpy as np

from keras_drnas.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--channels", "4", "--cells-per-stage", "1", "--epochs", "2", "--batch-size", "16", "--max-images", "256",
        "--verbose", "0", "--no-plots", "--exploration-samples", "0", "--save-freq", "3"]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(results, flags, **extra_env):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", **extra_env)
    command = [sys.executable, "-m", "tests.search_strategy.cli_search_process", str(results), *flags]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(processes, timeout=400):
    try:
        outputs = [p.communicate(timeout=timeout) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(processes, outputs, strict=True):
        assert p.returncode == 0 and "DONE" in out, err[-3000:]


def _results(path):
    loaded = np.load(path, allow_pickle=True)
    return {k: loaded[k] for k in loaded.files}


def test_two_workers_search_as_one_process_with_two_replicas(tmp_path):
    """Two workers on loopback ports (MultiWorkerMirroredStrategy from
    TF_CONFIG) search and retrain as one process with two replicas does;
    only the chief keeps files."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers_tmp = tmp_path / "workers_tmp"
    workers_tmp.mkdir()
    processes = [
        _start(tmp_path / f"worker{i}.npz", [*TINY, "--strategy", "multi-worker", "--output-dir", str(tmp_path / f"out{i}")],
               TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
               TMPDIR=str(workers_tmp))
        for i in range(2)
    ]
    # The same global batch of 16 in one process, split over two logical CPUs.
    processes.append(_start(tmp_path / "one.npz", ["--logical-cpus", "2", *TINY, "--strategy", "mirrored",
                                                  "--output-dir", str(tmp_path / "one")]))
    _finish(processes)

    chief, worker, one = (_results(tmp_path / f"{name}.npz") for name in ("worker0", "worker1", "one"))
    assert int(chief["replicas"]) == int(worker["replicas"]) == int(one["replicas"]) == 2
    assert str(chief["genotype"]) == str(worker["genotype"]) == str(one["genotype"])
    concentrations = [k for k in chief if k.startswith("concentration_")]
    assert concentrations
    for key in concentrations:
        np.testing.assert_allclose(worker[key], chief[key], rtol=1e-6)
        np.testing.assert_allclose(one[key], chief[key], rtol=1e-6)
    assert list(chief["names"]) == list(worker["names"]) == list(one["names"])
    assert len(chief["names"]) > 0
    for name, a, b, c in zip(chief["names"], chief["weights"], worker["weights"], one["weights"], strict=True):
        np.testing.assert_allclose(c, a, rtol=1e-5, atol=1e-6, err_msg=name)
        if "moving_" not in name:  # batch-norm statistics are each replica's own; the chief's are kept
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=name)

    # Retraining the genotype under the same strategy: both workers train one network (same losses and
    # weights). Its initial weights come from Keras' global seed generator, whose state after a search
    # differs between a mirrored and a multi-worker process, so the one-process run is not compared here.
    np.testing.assert_allclose(worker["retrain_loss"], chief["retrain_loss"], rtol=1e-5)
    # The same network on both workers (and, by name, in the one-process run): same weights, in order.
    assert list(chief["retrain_names"]) == list(worker["retrain_names"]) == list(one["retrain_names"])
    assert len(chief["retrain_names"]) > 0
    for name, a, b in zip(chief["retrain_names"], chief["retrain_weights"], worker["retrain_weights"], strict=True):
        if "moving_" not in name:
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=name)

    # Only the chief's directory has outputs; the other worker's temporary files are gone.
    written = {"genotype.json", "concentrations.json", "history.json", "genotypes.jsonl", "checkpoint", "retrain"}
    assert written <= set(os.listdir(tmp_path / "out0"))
    assert not os.path.exists(tmp_path / "out1") and os.listdir(workers_tmp) == []
    history = json.loads((tmp_path / "out0" / "history.json").read_text())["history"]
    np.testing.assert_allclose(history["loss"], json.loads((tmp_path / "one" / "history.json").read_text())
                               ["history"]["loss"], rtol=1e-5)


def test_multi_worker_needs_tf_config(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["search", *TINY, "--strategy", "multi-worker", "--output-dir", str(tmp_path)]) == 2
    assert "--strategy multi-worker reads the cluster from TF_CONFIG" in capsys.readouterr().err
    monkeypatch.setenv("TF_CONFIG", "{not json")
    assert main(["retrain", "--genotype", "g.json", "--strategy", "multi-worker"]) == 2
    assert "TF_CONFIG is not JSON" in capsys.readouterr().err
