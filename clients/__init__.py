"""The ``hexgame`` console command: random, model-driven and pygame clients.

The clients speak only the reference protocol (see docs/clients.md), so they
work against this arena and against the reference server alike, and they
judge moves with the server's own rules module, ``games.rules``.
"""
