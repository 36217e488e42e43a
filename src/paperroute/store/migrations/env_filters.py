"""What Alembic's schema comparison leaves out: tables schema.py leaves out on purpose."""

from __future__ import annotations


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Skip the pgvector tables (`vector_index_<hash>`, one per model): derived data, see 0010."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return not (table or "").startswith("vector_index_")
