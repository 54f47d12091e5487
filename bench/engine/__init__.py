"""The training engine: in-memory batches, one training loop, optimizers, devices."""
