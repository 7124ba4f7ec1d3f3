"""Session logs in SQLite (sqlite-utils): sessions, turns, codes, annotations; every turn committed at once."""

from simtrainer.storage.store import Store, open_store

__all__ = ["Store", "open_store"]
