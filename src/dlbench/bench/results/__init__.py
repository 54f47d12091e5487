"""The results directory and what is made from it: the store (records, artifacts, locking), its
files, the report files, exports, merges, baselines and trackers. It imports nothing of
``dlbench.bench.run``: results are read and rewritten without running anything."""
