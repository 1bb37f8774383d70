"""Environments behind one small interface: jittable MinAtar (gymnax) and host-side Atari (ale-py)."""
