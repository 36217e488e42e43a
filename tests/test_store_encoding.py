"""What the import writes is the text it always wrote: the store's own JSON encoders against the
json module, and SQLite's page size for new and existing stores."""

import json
import sqlite3

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from paperroute.store import merge
from paperroute.store.engine import SQLITE_PAGE_SIZE, make_engine, migrate

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_JSON)
def test_json_columns_are_written_as_json_dumps_writes_them(value):
    assert merge.dumps(value) == json.dumps(value)


@given(_JSON)
def test_provenance_text_is_sorted_compact_unescaped_json(value):
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert merge.canonical_json(value) == expected


def _page_size(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("PRAGMA page_size")).scalar()


def test_a_new_sqlite_store_gets_big_pages_and_an_old_one_keeps_its_own(tmp_path):
    fresh = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    migrate(fresh)
    assert _page_size(fresh) == SQLITE_PAGE_SIZE
    fresh.dispose()

    old_path = tmp_path / "old.db"
    with sqlite3.connect(old_path) as conn:  # a store made before: 4 KiB pages, WAL
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE kept (x)")
    old = make_engine(f"sqlite:///{old_path}")
    migrate(old)
    assert _page_size(old) == 4096
    with old.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM papers")).scalar() == 0
    old.dispose()
