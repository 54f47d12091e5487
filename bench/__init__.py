"""dlbench's runner: the ``bench`` command, matrix expansion, the result store and executors."""
