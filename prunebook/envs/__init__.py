"""Environments behind one small interface: jittable MinAtar (gymnax), host-side Atari (ale-py)."""

from prunebook.extras import require

require("envs", 'gymnax', 'six', 'gymnasium', 'ale_py', 'cv2', by="prunebook.envs")
