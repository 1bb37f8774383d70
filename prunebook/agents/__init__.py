"""Value-based agents: pure `make_*` factories over a train-state pytree, and their one registry.

`AGENT_FACTORIES[name](config, num_actions)` builds any agent of `prunebook.spec.AGENTS` or
`OFFLINE_AGENTS`; the loops (`prunebook.loops`) look agents up here only.
"""

from prunebook.agents.atari100k import make_atari100k
from prunebook.agents.cql import make_cql, make_cql_c51
from prunebook.agents.dqn import make_dqn
from prunebook.agents.iqn import make_iqn
from prunebook.agents.rainbow import make_rainbow

AGENT_FACTORIES = {"dqn": make_dqn, "rainbow": make_rainbow, "iqn": make_iqn,
                   "der": make_atari100k, "drq_eps": make_atari100k,
                   "cql": make_cql, "cql_c51": make_cql_c51}
