"""The training toolkit (floor 2): the one training loop and what strategies and dataset plugins
build with. It imports only ``dlbench.registry``.

Plugin authors reach its public part through ``dlbench`` (declared once, in
``dlbench/__init__.pyi``); the rest of dlbench imports each name from the module defining it.
"""
