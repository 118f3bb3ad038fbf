"""Backing up the live database and the uploaded documents into one folder."""
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from peewee import Database, SqliteDatabase

from .errors import N_, DomainError

DATABASE_NAME = "mustafeed.db"
UPLOADS_NAME = "uploads"


class BackupRefused(DomainError):
    """The backup cannot be taken into this destination or from this database."""


@dataclass
class BackupResult:
    database: Path
    uploads: Path
    files: int


def backup(database: Database, upload_dir: str | Path, dest: str | Path) -> BackupResult:
    """Copy the live SQLite database (online backup API) and the uploads folder into dest."""
    if not isinstance(database, SqliteDatabase):
        raise BackupRefused(N_("Only a SQLite database can be backed up by this command; "
                               "PostgreSQL backup (pg_dump) comes later."))
    dest, upload_dir = Path(dest), Path(upload_dir)
    db_copy, uploads_copy = dest / DATABASE_NAME, dest / UPLOADS_NAME
    if dest.exists() and not dest.is_dir():
        raise BackupRefused(N_("%(dest)s is a file, not a folder."), dest=str(dest))
    if db_copy.exists() or uploads_copy.exists():
        raise BackupRefused(N_("%(dest)s already holds a backup; choose an empty folder."), dest=str(dest))
    # Copying the uploads into a folder inside them would copy the copy, without end.
    if upload_dir.exists() and dest.resolve().is_relative_to(upload_dir.resolve()):
        raise BackupRefused(N_("The backup folder cannot be inside the uploads folder."))
    # The copy holds the same personal data as the live database: readable by its owner only.
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)

    # Written under a temporary name so an interrupted backup is never taken for a whole one.
    partial = dest / (DATABASE_NAME + ".partial")
    target = sqlite3.connect(partial)
    partial.chmod(0o600)
    try:
        # The online backup API copies a consistent snapshot while the application keeps writing.
        database.connection().backup(target)
        (result,) = target.execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise BackupRefused(N_("The copied database failed its integrity check: %(result)s."), result=result)
        # A single file is what an operator expects to copy elsewhere; WAL would leave two more.
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
    partial.rename(db_copy)

    if upload_dir.is_dir():
        shutil.copytree(upload_dir, uploads_copy)
    else:
        uploads_copy.mkdir()
    files = sum(1 for path in uploads_copy.rglob("*") if path.is_file())
    return BackupResult(database=db_copy, uploads=uploads_copy, files=files)
