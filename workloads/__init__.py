"""Workloads: model shapes, budgets and artifacts -> ops, op graph and tile statistics.

numpy + networkx only: never imports torch or transformers.
"""
