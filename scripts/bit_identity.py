"""Record, or check, what the training code computes at preset "ci", bit for bit.

A refactoring must not change results. Before it: ``python scripts/bit_identity.py record
OUT.json``; after it: ``python scripts/bit_identity.py check OUT.json`` (exit status 1 and the
first differing runs when anything changed). Covered: DQN, Rainbow and IQN online, dense and
95% GMP, with and without the `std` environment settings (sticky actions, six actions, long
episodes), the five Atari agents (DQN, Rainbow, IQN, DER, DrQ(eps)) at a 400-step budget,
dense and pruned, and offline CQL and CQL+C51 dense and pruned on a logged ci dataset. Compared:
every results-record field except the timings (`wall_s`, `measures_s`, `wall_clock_s`), the finish
time, the code version and the device; the §5 measures are included.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from prunebook.book.chapters import source as offline  # run_live: every chapter's live runs
from prunebook.config import RunConfig, ci_config, offline_ci_config, paper_config
from prunebook.loops.trainer import TIMING_KEYS
from prunebook.spec import BASELINE_FIELDS, PAPER_AGENTS
from prunebook.sweeps import runner

VOLATILE = {"wall_clock_s", "finished_at", "code_version", "device"}


# config fields added later whose default is what ran before (chapters 6 and 7's controls and
# baselines; `asterix_spawn`, gymnax's Asterix): a record made before they existed lacks them,
# so they are compared only when not at their default
VARIANT_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunConfig)
                    if f.name in ("mask_method", "redo_tau", "asterix_spawn",
                                  *BASELINE_FIELDS.values())}


def _stable(record: dict) -> dict:
    out = {k: v for k, v in record.items() if k not in VOLATILE}
    out["config"] = {k: v for k, v in record["config"].items()
                     if k not in VARIANT_DEFAULTS or v != VARIANT_DEFAULTS[k]}
    out["iterations"] = [{k: v for k, v in it.items() if k not in TIMING_KEYS}
                         for it in record["iterations"]]
    return out


def online_configs():
    std_env = dict(sticky_actions=True, full_action_set=True, max_episode_steps=27_000)
    for agent in ("dqn", "rainbow", "iqn"):
        for sparsity in (0.0, 0.95):
            yield ci_config(agent, game="Breakout", final_sparsity=sparsity)
    for sparsity in (0.0, 0.95):
        yield ci_config("dqn", game="SpaceInvaders", final_sparsity=sparsity, **std_env)


def atari_configs():
    """400 agent steps in 2 iterations, a few dozen updates: every Atari code path, in seconds."""
    tiny = dict(network="nature", num_env_steps=400, iteration_env_steps=200,
                min_replay_history=300, replay_capacity=1_000, target_update_period=40,
                epsilon_decay_steps=100, mask_update_every=5)
    for agent in PAPER_AGENTS:
        for sparsity in (0.0, 0.95):
            yield paper_config(agent, final_sparsity=sparsity, **tiny)


def offline_configs():
    for agent in ("cql", "cql_c51"):
        for sparsity in (0.0, 0.95):
            yield offline_ci_config(agent, game="Breakout", final_sparsity=sparsity)


def compute() -> dict[str, dict]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for config in online_configs():
            path = runner.run_one(config, "bits", root / "r", root / "c")
            out[f"online/{config.run_id}/{config.sticky_actions}"] = _stable(
                json.loads(path.read_text()))
        for config in atari_configs():
            path = runner.run_one(config, "bits", root / "r", root / "c")
            out[f"atari/{config.run_id}"] = _stable(json.loads(path.read_text()))
        results_root = offline.run_live(list(offline_configs()), root / "off")
        for path in sorted(results_root.glob("*/*.json")):
            out[f"offline/{path.stem}"] = _stable(json.loads(path.read_text()))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("record", "check"):
        print("usage: python scripts/bit_identity.py record|check FILE.json", file=sys.stderr)
        return 2
    mode, file = argv
    now = compute()
    if mode == "record":
        Path(file).write_text(json.dumps(now, sort_keys=True, indent=1))
        print(f"recorded {len(now)} runs in {file}")
        return 0
    before = json.loads(Path(file).read_text())
    changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    if changed:
        print(f"{len(changed)} of {len(before)} runs differ, e.g. {changed[:3]}")
        return 1
    print(f"all {len(before)} runs bit-identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
