"""Headless helpers for the terminal console: models the screens render, the data source that fills
them, filter parsing, keyset paging, EXPLAIN. Nothing here imports Textual (DESIGN.md §3)."""
