"""Bundled example models.

A model is a module with ``agent(board, action_set)``: ``board`` is a list
of rows ``board[r][q]`` holding 0 (empty), -1 (red) and 1 (blue), and
``action_set`` lists the legal moves as ``(row, col)`` tuples. The agent
returns one of them. ``hexgame play --model-name NAME`` looks for
``clients.models.NAME`` first, then for a plain module ``NAME``.
"""
