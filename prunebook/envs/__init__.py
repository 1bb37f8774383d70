"""Environments behind one small interface: jittable MinAtar (gymnax), host-side Atari (ale-py)."""
