"""`prunebook run` / `prunebook status`: the command line over the runner.

Every flag is validated (by building every RunConfig of the sweep) before any compute, so a
typo fails in milliseconds with a message naming the field, not hours into a sweep.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
from pathlib import Path

from prunebook.analysis import export
from prunebook.config import ConfigError
from prunebook.spec import AGENTS, ATARI_100K_AGENTS, MINATAR_GAMES, OFFLINE_AGENTS, PRESETS
from prunebook.sweeps import cost, local, planner, registry, store
from prunebook.sweeps.checkpoints import DEFAULT_CHECKPOINT_ROOT
from prunebook.sweeps.grid import Grid, Sweep
from prunebook.sweeps.local import LocalExecutor, SerialExecutor
from prunebook.sweeps.logger import prepare_sweep
from prunebook.sweeps.ray_cluster import RayExecutor
from prunebook.sweeps.registry import describe, get_sweep
from prunebook.sweeps.store import atomic_write_bytes
from prunebook.sweeps.vmap import VmapExecutor

_GRID_FLAGS = {"agents": "agent", "games": "game", "widths": "width",
               "sparsities": "final_sparsity", "seeds": "seed"}  # flag -> RunConfig field
_ADHOC_DEFAULTS = {"agents": ["dqn"], "games": ["Breakout"], "widths": [1],
                   "sparsities": [0.0, 0.95], "seeds": [0]}


def _sweep_from_args(args) -> Sweep:
    """A named sweep, or the part of it the grid flags select; or an ad-hoc grid."""
    if args.sweep:
        sweep = get_sweep(args.sweep)
        only = _only(args)
        selected = dataclasses.replace(sweep, only=only)
        if not selected.configs():
            raise ConfigError(f"no run of sweep {args.sweep!r} has "
                              + ", ".join(f"{field} in {list(v)}" for field, v in only))
        return selected
    overrides = {}
    if args.env_steps is not None:
        overrides["num_env_steps"] = args.env_steps
    flags = {flag: getattr(args, flag) or default for flag, default in _ADHOC_DEFAULTS.items()}
    grid = Grid(flags["agents"], flags["games"], flags["widths"], flags["sparsities"],
                flags["seeds"], args.preset, tuple(sorted(overrides.items())))
    return Sweep(args.name or f"adhoc_{args.preset}", (grid,))


def _add_grid_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sweep", help="a named sweep from prunebook.sweeps.registry (e.g. "
                                   "online_cpu); with grid flags, only its runs that match them")
    p.add_argument("--sweeps", nargs="+", metavar="SWEEP",
                   help="several named sweeps as one queue, in the order given (with --until: "
                        "a session's workers)")
    p.add_argument("--name", help="sweep name for an ad-hoc grid (results/<name>/)")
    p.add_argument("--preset", default="ci", help=f"one of {list(PRESETS)}")
    p.add_argument("--agents", nargs="+",
                   help=f"from {list(AGENTS)}; {list(ATARI_100K_AGENTS)} (Fig 7) are Atari "
                        "only: use them with --preset paper (default: dqn)")
    p.add_argument("--games", nargs="+",
                   help=f"MinAtar: {list(MINATAR_GAMES)}; with --preset paper, Atari names "
                        "(e.g. Pong, Breakout) (default: Breakout)")
    p.add_argument("--widths", nargs="+", type=int, help="(default: 1)")
    p.add_argument("--sparsities", nargs="+", type=float, help="(default: 0 0.95)")
    p.add_argument("--seeds", nargs="+", type=int, help="(default: 0)")
    p.add_argument("--env-steps", type=int, default=None, help="override num_env_steps")
    p.add_argument("--results", default="results", help="results root (committed)")
    p.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINT_ROOT),
                   help="checkpoint root (outside the work tree)")


def _only(args) -> tuple:
    return tuple((field, tuple(getattr(args, flag))) for flag, field in _GRID_FLAGS.items()
                 if getattr(args, flag) is not None)


def _run_queue(args) -> int:
    """`prunebook run --sweeps A B --until T`: one queue over the sweeps, stopping at T."""
    now = dt.datetime.now().astimezone()
    try:
        sweeps = planner.sweeps_named(args.sweeps, _only(args))
        for sweep in sweeps:
            sweep.configs()  # validates every run before any compute
        until = planner.parse_until(args.until, now) if args.until else None
    except (ConfigError, ValueError) as error:
        print(f"prunebook: error: {error}", file=sys.stderr)
        return 2
    if until is None:
        print("prunebook: error: --sweeps needs --until (e.g. --until 09:30 or --until +2h)",
              file=sys.stderr)
        return 2
    if args.workers is not None and args.workers <= 0:
        print(f"prunebook: error: --workers must be positive, got {args.workers}", file=sys.stderr)
        return 2
    print(f"queue {' -> '.join(args.sweeps)} until {until:%Y-%m-%d %H:%M %Z}")
    outcome = local.run_queue(sweeps, until.timestamp(), Path(args.results),
                              Path(args.checkpoints), workers=args.workers)
    done = sum(status == "done" for status in outcome.values())
    failed = {k: v for k, v in outcome.items() if v.startswith("failed")}
    print(f"queue: {done} runs finished, {len(outcome) - done - len(failed)} stopped or held "
          f"elsewhere, {len(failed)} failed")
    return 1 if failed else 0


def _print_status(sweep: Sweep, args, cpu: str) -> None:
    """One sweep's `prunebook status`: run states, runs in progress with their iteration and
    expected end, speed against the benchmark on this CPU model, and the measured cost."""
    results, checkpoints = Path(args.results), Path(args.checkpoints)
    configs = {c.run_id: c for c in sweep.configs()}
    state = cost.sweep_status(sweep, results, checkpoints)
    print(f"sweep {sweep.name}: {len(configs)} runs")
    prior_name = describe(sweep.name).cost_prior
    prior = registry.get_sweep(prior_name) if prior_name else None
    costs = cost.cost_estimate(sweep, results, prior, cpu)  # runs left at this CPU's rate
    hours = cost.done_hours(costs)
    for key in ("done", "running", "partial", "left"):
        note = f"  ({hours:.2f} h in training iterations)" if key == "done" else ""
        print(f"  {key:8s} {len(state[key]):4d}{note}")
        if key in ("running", "partial"):
            for run_id in state[key]:
                progress = cost.run_progress(configs[run_id], sweep.name, checkpoints)
                line = run_id if progress is None else progress[0].describe(
                    progress[1], running=key == "running")
                print(f"           {line}")
    if state["bad"]:  # not counted as done: `prunebook run` restores or reruns them
        print(f"  bad      {len(state['bad']):4d}  (results files that cannot be used)")
        for line in state["bad"]:
            print(f"           {line}")
    print("  speed: " + cost.efficiency(sweep, results, checkpoints, cpu).describe())
    workers = args.workers if args.workers and args.workers > 0 else os.cpu_count() or 1
    print("cost per (agent, width), measured on finished runs (training iterations); runs "
          "left at this CPU model's rate where it finished runs of the group:")
    print(cost.format_cost_estimate(costs, workers))
    if args.markdown:  # the book's table: every CPU's runs, so any machine writes the same page
        book_costs = cost.cost_estimate(sweep, results, prior)
        atomic_write_bytes(Path(args.markdown), cost.cost_markdown(book_costs, sweep.name).encode())


def _queue_status(args) -> int:
    """`prunebook status --sweeps A B`: each sweep's status, then what the queue would start."""
    try:
        sweeps = planner.sweeps_named(args.sweeps, _only(args))
    except ConfigError as error:
        print(f"prunebook: error: {error}", file=sys.stderr)
        return 2
    if args.markdown:
        print("prunebook: error: --markdown takes one --sweep", file=sys.stderr)
        return 2
    cpu = store.device_description()
    print(f"this CPU: {cpu}")
    for sweep in sweeps:
        _print_status(sweep, args, cpu)
    plan = planner.pending(sweeps, Path(args.results), Path(args.checkpoints), cpu)
    print(f"queue: {len(plan)} runs left; the first ones, with their estimates:")
    for run in plan[:8]:
        hours = "?" if run.seconds_left is None else f"{run.seconds_left / 3600:.2f} h"
        print(f"  {planner.key(run):55s} {hours:>7s}  ({run.rate_source})")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="prunebook")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run (or resume) a sweep")
    _add_grid_flags(run)
    run.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    run.add_argument("--serial", action="store_true", help="same as --executor serial")
    run.add_argument("--executor", choices=("local", "serial", "vmap", "ray"), default="local",
                     help="local: one single-threaded process per core (CPU default); "
                          "serial: this process; vmap: batch seeds and sparsities of one "
                          "network shape into one program (GPU); ray: a Ray cluster")
    run.add_argument("--address", default=None, help="Ray address for --executor ray (e.g. auto)")
    run.add_argument("--cpus-per-run", type=float, default=1)
    run.add_argument("--gpus-per-run", type=float, default=0, help="fractions share a GPU")
    run.add_argument("--memory-per-run-gb", type=float, default=None)
    run.add_argument("--max-retries", type=int, default=3)
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--until", default=None,
                     help="with --sweeps: stop at this time (HH:MM, an ISO date-time or +2h30m); "
                          "runs are started only if they should finish by then, and every "
                          "worker checkpoints and exits at it")
    status = sub.add_parser("status", help="what is done, running, partial and left, and "
                                           "what the runs left should cost")
    _add_grid_flags(status)
    status.add_argument("--workers", type=int, default=None,
                        help="workers to estimate the wall time with (default: cores)")
    status.add_argument("--markdown", metavar="PATH", default=None,
                        help="also write the measured cost table as markdown (the book's)")
    # `prunebook export`: a sweep's per-run scores and rliable arrays (analysis.export)
    export_cmd = sub.add_parser("export", help="write a sweep's per-run final scores (csv or "
                                               "npz) and rliable's (runs, games) arrays")
    export_cmd.add_argument("--sweep", required=True, help="a folder of results/, e.g. online_cpu")
    export_cmd.add_argument("--format", choices=export.FORMATS, default="csv")
    export_cmd.add_argument("--out", default=".", help="folder to write into (default: here)")
    export_cmd.add_argument("--results", default="results", help="results root")
    args = parser.parse_args(argv)
    if args.command == "export":
        try:
            written = export.export(args.results, args.sweep, args.out, [args.format])
        except ValueError as error:
            print(f"prunebook: error: {error}", file=sys.stderr)
            return 2
        print("\n".join(map(str, written)))
        return 0
    if args.sweep and args.sweeps:
        print("prunebook: error: give --sweep or --sweeps, not both", file=sys.stderr)
        return 2
    if args.command == "run" and args.sweeps:
        return _run_queue(args)
    if args.command == "status" and args.sweeps:
        return _queue_status(args)
    if args.command == "run" and args.until:
        print("prunebook: error: --until needs --sweeps", file=sys.stderr)
        return 2

    try:
        sweep = _sweep_from_args(args)
        configs = sweep.configs()  # validates every run before any compute
    except (ConfigError, ValueError) as error:
        print(f"prunebook: error: {error}", file=sys.stderr)
        return 2

    if args.command == "status":
        _print_status(sweep, args, store.device_description())
        return 0

    if args.workers is not None and args.workers <= 0:
        print(f"prunebook: error: --workers must be positive, got {args.workers}", file=sys.stderr)
        return 2
    if args.serial or args.executor == "serial":
        executor = SerialExecutor()
    elif args.executor == "vmap":
        executor = VmapExecutor()
    elif args.executor == "ray":
        try:
            executor = RayExecutor(args.address, args.cpus_per_run, args.gpus_per_run,
                                   args.max_retries, memory_per_run_gb=args.memory_per_run_gb)
            executor.init_ray()
        except ImportError as error:
            print(f"prunebook: error: {error}", file=sys.stderr)
            return 2
    else:
        executor = LocalExecutor(args.workers)
    if any(c.agent in OFFLINE_AGENTS for c in configs):
        # offline runs need their logged DQN datasets; the logging runs are recorded in the
        # sweep's results (they are the normalisation reference), so log them first, once
        prepare_sweep(sweep, Path(args.results))
    try:
        outcome = local.run_sweep(sweep, Path(args.results), Path(args.checkpoints), executor,
                                  show_progress=not args.no_progress)
    except ConfigError as error:
        print(f"prunebook: error: {error}", file=sys.stderr)
        return 2
    failed = {k: v for k, v in outcome.items() if v.startswith("failed")}
    busy = [k for k, v in outcome.items() if v == "busy"]
    print(f"{sweep.name}: {len(outcome) - len(failed) - len(busy)} runs finished, "
          f"{len(busy)} held by another runner, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
