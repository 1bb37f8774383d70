"""Training loops, one per setting, each returning a `prunebook.loops.trainer.Trainer`:
`minatar` (fully jitted, `lax.scan`), `atari` (host-stepped ALE), `offline` (fixed replay)."""
