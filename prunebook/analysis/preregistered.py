"""The book's claims, each with its verdict rule, written before the sweep that judges it ran.

Chapters 1-4 test the paper's own claims (dossier §4). Chapters 6 and 7 were registered here,
and committed, before their sweeps (`controls_cpu`, `baselines_cpu`) started: each names the
expectation it is judged against (the paper's, or the later literature's) in ``paper``. A rule
is never changed after results exist; sensitivity views go beside it (:mod:`.claims`'
robustness alternatives).
"""

from __future__ import annotations

from prunebook.analysis.claim_rules import NON_INFERIORITY_MARGIN, WIDEST, Claim, Side
from prunebook.spec import BASELINES

_FIG1 = ('"close to a 60% (DQN) and 50% (Rainbow) performance improvement over the original '
         '(unpruned and unscaled) architectures"')
_MONO = ('"while the performance of the unpruned architectures decreases monotonically with '
         'increasing widths, the performance of the pruned counterparts increases monotonically"')
_FIG3 = ('"90% and 95% sparsity produce a 33% performance improvement, and 99% sparsity maintains '
         'performance"')
_FIG8 = ('"both CQL and CQL+C51 observe significant gains when using pruned networks, in '
         'particular with wider networks"')


def _claims() -> tuple[Claim, ...]:
    out = []
    for agent, gain, name in (("dqn", 1.6, "DQN"), ("rainbow", 1.5, "Rainbow")):
        dense1, pruned1 = Side(agent, 1, 0.0), Side(agent, 1, 0.95)
        out += [
            Claim(f"1-{agent}", _MONO, "dense IQM decreases with width (no number)", "Fig 1",
                  Side(agent, WIDEST, 0.0), dense1, "less",
                  label=f"{name} dense: widest vs ×1"),
            Claim(f"1-{agent}-pruned", _MONO, "pruned IQM increases with width (no number)",
                  "Fig 1", Side(agent, WIDEST, 0.95), pruned1, "greater",
                  label=f"{name} pruned: widest vs ×1"),
            Claim(f"2-{agent}", _FIG1, f"{name} +~{gain - 1:.0%} (×{gain})", "Fig 1",
                  Side(agent, WIDEST, 0.95), dense1, "greater", paper_ratio=gain,
                  label=f"{name}: pruned widest vs dense ×1"),
        ]
    dense3 = Side("dqn", 3, 0.0)
    out += [
        Claim("3-90", _FIG3, "+33% (×1.33) at width 3", "Fig 3", Side("dqn", 3, 0.9), dense3,
              "greater", paper_ratio=1.33, label="DQN ×3: 90% pruned vs dense"),
        Claim("3-95", _FIG3, "+33% (×1.33) at width 3", "Fig 3", Side("dqn", 3, 0.95), dense3,
              "greater", paper_ratio=1.33, label="DQN ×3: 95% pruned vs dense"),
        Claim("3-99", _FIG3, "maintains performance at width 3 (no number)", "Fig 3",
              Side("dqn", 3, 0.99), dense3, "non_inferior", margin=NON_INFERIORITY_MARGIN,
              label="DQN ×3: 99% pruned vs dense"),
    ]
    for agent, tag, name in (("cql", "cql", "CQL"), ("cql_c51", "cql-c51", "CQL+C51")):
        for width in (1, 3):
            out.append(Claim(f"4-{tag}-w{width}", _FIG8, "significant gains (no number)", "Fig 8",
                             Side(agent, width, 0.95), Side(agent, width, 0.0), "greater",
                             label=f"{name} ×{width}: pruned vs dense"))
    return tuple(out)


# --- chapter 6: what is it about pruning? (registered before `controls_cpu` ran) -----------
CONTROL_SWEEPS = ("controls_cpu", "controls_ci")
_STATIC = ('"static sparsity [random masks fixed at initialisation] ... unlocks the scaling '
           'potential" (Network Sparsity Unlocks the Scaling Potential of Deep RL, 2025)')
_LOTTERY = ('the lottery ticket "under-performs both the pruning approach and the unpruned '
            'baseline" (§5.1, at width 3; ours at width 5)')
_SIZE = ('the paper\'s thesis: pruning lets wide networks use their width; the book\'s 500k-step '
         'runs instead follow kept weights (DQN x5 at 95% vs x3 at 90%: x0.99)')


def _control_claims() -> list[Claim]:
    out = []
    for width in (1, 5):
        gmp, static = Side("dqn", width, 0.95), Side("dqn", width, 0.95, "static_random")
        out += [
            Claim(f"6-gmp-vs-static-w{width}", _STATIC,
                  "literature: static random scales as well (no number)", "—", gmp, static,
                  "greater", sweeps=CONTROL_SWEEPS, label=f"×{width}: GMP vs static random"),
            Claim(f"6-static-keeps-w{width}", _STATIC,
                  "literature: static random scales as well (no number)", "—", static, gmp,
                  "non_inferior", margin=NON_INFERIORITY_MARGIN, sweeps=CONTROL_SWEEPS,
                  label=f"×{width}: static random vs GMP"),
        ]
    lottery = Side("dqn", 5, 0.95, "lottery")
    out += [
        Claim("6-gmp-vs-lottery", _LOTTERY, "lottery ticket below GMP (no number)", "Fig 13",
              Side("dqn", 5, 0.95), lottery, "greater", sweeps=CONTROL_SWEEPS,
              label="×5: GMP vs lottery ticket"),
        Claim("6-dense-vs-lottery", _LOTTERY, "lottery ticket below dense (no number)",
              "Fig 13", Side("dqn", 5, 0.0), lottery, "greater", sweeps=CONTROL_SWEEPS,
              label="×5: dense vs lottery ticket"),
        Claim("6-sparse-vs-dense-equal-kept", _SIZE,
              "no number at equal size; sparse wide expected above dense narrow", "—",
              Side("dqn", 5, 0.8), Side("dqn", 1, 0.0), "greater", sweeps=CONTROL_SWEEPS,
              label="equal size: ×5 80% vs dense ×1"),
        Claim("6-width-at-equal-kept", _SIZE,
              "no number at equal size; wider expected above narrower", "—",
              Side("dqn", 10, 0.95), Side("dqn", 5, 0.9), "greater", sweeps=CONTROL_SWEEPS,
              label="equal size: ×10 95% vs ×5 90%"),
    ]
    return out


# --- chapter 7: pruning against the other fixes (registered before `baselines_cpu` ran) ----
BASELINE_SWEEPS = ("baselines_cpu", "baselines_ci")
_FIG12 = ('"gradual magnitude pruning surpasses all the other regularization methods at all '
          'levels of scale, and throughout the entirety of training"')


_BASELINE_NAMES = {"weight_decay": "weight decay", "l2": "L2", "reset": "Reset", "redo": "ReDo"}


def _baseline_claims() -> list[Claim]:
    return [Claim(f"7-{method}-w{width}", _FIG12, "GMP above every baseline at every width "
                  "(no number)", "Fig 12", Side("dqn", width, 0.95),
                  Side("dqn", width, 0.0, method), "greater", sweeps=BASELINE_SWEEPS,
                  label=f"×{width}: GMP vs {_BASELINE_NAMES[method]}")
            for method in BASELINES for width in (1, 3, 5)]


CLAIMS: tuple[Claim, ...] = (*_claims(), *_control_claims(), *_baseline_claims())
