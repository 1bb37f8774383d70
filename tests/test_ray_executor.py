"""The Ray executor: a task killed mid-run is retried by Ray and resumes from its checkpoint.

Skipped when ray (the optional `cluster` extra) is not installed.
"""

import json
import sys

import faults
import pytest

from prunebook.config import ci_config
from prunebook.loops.trainer import TIMING_KEYS
from prunebook.sweeps import checkpoints, runner
from prunebook.sweeps.local import SINGLE_THREAD_XLA


def _iterations_without_wall(path):
    record = json.loads(path.read_text())
    return [{k: v for k, v in it.items() if k not in TIMING_KEYS}
            for it in record["iterations"]]


def test_missing_ray_is_explained(monkeypatch):
    from prunebook.sweeps.ray_cluster import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(ImportError, match=r"pip install -e \.\[cluster\]"):
        RayExecutor().run([], "s", "r", "c", lambda kind, event: None)


def test_kill_once_only_fires_once_per_run(tmp_path):
    hook = faults.KillOnce(tmp_path, after_iteration=2)
    hook({"run_id": "a", "iteration": 1})  # other iterations: nothing happens
    (tmp_path / "a.killed").write_text("0")
    hook({"run_id": "a", "iteration": 2})  # already killed once: nothing happens
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.killed"]


def test_xla_settings_follow_the_resource_request():
    from prunebook.sweeps.ray_cluster import _xla_environment

    assert _xla_environment(1, 0) == {"XLA_FLAGS": SINGLE_THREAD_XLA}
    assert _xla_environment(4, 0) == {}
    assert _xla_environment(2, 1) == {}
    assert _xla_environment(2, 0.25) == {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.23"}


@pytest.mark.slow
def test_killed_task_is_retried_and_equals_an_uninterrupted_run(tmp_path):
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    from prunebook.sweeps.ray_cluster import RayExecutor

    cloudpickle.register_pickle_by_value(faults)  # Ray's workers cannot import tests/

    config = ci_config("dqn", num_env_steps=1_500, iteration_env_steps=500, final_sparsity=0.9)
    held = ci_config("dqn", num_env_steps=1_500, iteration_env_steps=500, seed=7)
    lock = checkpoints.checkpoint_path(tmp_path / "c", "ray", held.run_id).with_suffix(".lock")
    assert checkpoints.try_claim(lock)  # a live local runner holds this one
    events = []
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        kill = faults.KillOnce(tmp_path / "markers", after_iteration=1)
        executor = RayExecutor(max_retries=2, checkpoint_interval_s=0, progress_hook=kill)
        executor.run([config, held], "ray", tmp_path / "r", tmp_path / "c",
                     lambda kind, event: events.append((kind, event)))
    finally:
        ray.shutdown()
    finished = {e["run_id"]: e["status"] for kind, e in events if kind == "finished"}
    assert finished == {config.run_id: "done", held.run_id: "busy"}
    killed = json.loads((tmp_path / "markers" / f"{config.run_id}.killed").read_text())
    assert killed["XLA_FLAGS"] == SINGLE_THREAD_XLA  # a one-CPU task: single-threaded XLA
    assert any(kind == "progress" for kind, _ in events)
    assert not checkpoints.checkpoint_path(tmp_path / "c", "ray", config.run_id).exists()

    reference = runner.run_one(config, "ray", tmp_path / "ref", tmp_path / "c_ref")
    resumed = tmp_path / "r" / "ray" / f"{config.run_id}.json"
    assert _iterations_without_wall(resumed) == _iterations_without_wall(reference)
