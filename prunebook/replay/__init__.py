"""Replay buffers: `jittable` (MinAtar's device buffer, uniform and prioritized, n-step),
`frames` (Atari's host buffer storing each frame once), `fixed` (the offline 5% sample)."""
