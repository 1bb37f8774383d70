"""prunebook: reproduce 'In value-based deep RL, a pruned network is a good network'."""

__version__ = "0.1.0"
