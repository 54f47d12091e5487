"""The dlbench plugin contract (floor 1): hookspecs, the records plugins register, cells, the
run context and executor protocols, the plugin manager and name lookup. It imports nothing else
of dlbench.

Plugin authors import ``dlbench``, which offers what they need from here (declared once, in
``dlbench/__init__.pyi``); the rest of dlbench imports each name from the module defining it.
"""
