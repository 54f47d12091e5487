"""Running cells: the runner and what one cell's run needs (its context, observers, checkpoints,
code fingerprints, environment, progress). It writes through ``dlbench.bench.results``."""
