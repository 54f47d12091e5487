"""Built-in observers: lifecycle hooks that watch a run."""
