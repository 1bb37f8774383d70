"""When chapter 7's weight-re-initialising baselines act inside the jitted loop.

`make_intervention(config, network, init_params)` returns a pure
`(params, opt_state, updates_done, obs, key) -> (params, opt_state)` that the MinAtar loop calls
after every gradient update: Reset (`config.reset_every_updates`) re-initialises the Q output
layer, ReDo (`config.redo_every_updates`) recycles the units that are dormant on the update's
batch of observations (scored after the update, with `prunebook.measures`' score). Both act when
the number of updates done is a multiple of their period; fresh values come from
`init_params(key, obs)`, the network's own initialiser with a new key. For every other run the
intervention is the identity and adds nothing to the compiled loop.
"""

from __future__ import annotations

from prunebook import measures
from prunebook.config import RunConfig
from prunebook.loops import recycling
from prunebook.pruning.control import run_if


def make_intervention(config: RunConfig, network, init_params):
    if not (config.reset_every_updates or config.redo_every_updates):
        return lambda params, opt_state, updates, obs, key: (params, opt_state)

    def fresh(key, obs):
        return init_params(key, obs[0])

    def reset(params, opt_state, obs, key):
        return recycling.reset_output_layer(params, fresh(key, obs), opt_state)

    def redo(params, opt_state, obs, key):
        _, activations = measures.hidden_activations(
            lambda p, o, **kw: network.apply(p, o, **kw), params, obs)
        params, opt_state, _ = recycling.recycle_dormant(
            params, opt_state, activations, fresh(key, obs), config.redo_tau)
        return params, opt_state

    act, every = ((reset, config.reset_every_updates) if config.reset_every_updates
                  else (redo, config.redo_every_updates))

    def intervene(params, opt_state, updates, obs, key):
        return run_if(updates % every == 0, lambda s: act(s[0], s[1], obs, key),
                      (params, opt_state))

    return intervene
