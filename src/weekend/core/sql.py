"""SQL text weekend builds itself: identifiers and string literals, quoted one way everywhere.

Values that come from users reach SQL as bound parameters wherever the driver allows it; these
two helpers cover what cannot be bound (column names, file paths in DuckDB table functions).
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (any name Arrow allows, spaces included)."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    """``value`` as a single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


__all__ = ["quote_ident", "sql_string"]
