"""Running the book's experiments: named grids (`grid`, `registry`), one resumable run
(`runner`, `checkpoints`), the results store (`store`), executors (`local`, `vmap`,
`ray_cluster`), cost and status (`cost`), dataset logging (`logger`) and record migrations."""

from prunebook.extras import require

require("analysis", 'pandas', by="prunebook.sweeps")
