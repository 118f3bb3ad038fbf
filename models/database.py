"""Opening the database named by DATABASE_URL and binding the model proxy to it."""
from playhouse.db_url import connect

from .base import db

# SQLite: WAL lets readers work while one writer writes; the busy timeout makes a
# second writer wait instead of failing with "database is locked".
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
    "cache_size": -64 * 1000,
}


def open_database(url: str):
    """Create the peewee database for a URL and initialise the shared proxy with it."""
    if url.startswith("sqlite"):
        # BEGIN IMMEDIATE: a transaction takes the write lock when it starts, so it waits its turn
        # (busy timeout) instead of failing later. A deferred one that read first and then writes
        # after another process committed gets "database is locked" at once, whatever the timeout.
        database = connect(url, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
    else:
        database = connect(url)
    db.initialize(database)
    return database
