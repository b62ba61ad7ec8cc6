"""Data sources, IDX parsing and preprocessing."""
