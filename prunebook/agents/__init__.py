"""Value-based agents: pure `make_*` factories over a train-state pytree."""
