"""Backing up the live database and the uploaded documents into one folder, and bringing a backup back.

A backup folder holds the database (`mustafeed.db`, a SQLite file, or `mustafeed.dump`, PostgreSQL's
custom format) and `uploads/`. Both kinds are consistent snapshots taken while the application keeps
writing: SQLite's online backup API, and pg_dump, which reads everything in one transaction.
"""
import glob
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from peewee import Database, PostgresqlDatabase, SqliteDatabase

from .errors import N_, DomainError
from .files import make_private, sqlite_files

DATABASE_NAME = "mustafeed.db"
DUMP_NAME = "mustafeed.dump"
UPLOADS_NAME = "uploads"


class BackupRefused(DomainError):
    """The backup cannot be taken into this destination or from this database."""


class RestoreRefused(DomainError):
    """The backup cannot be restored from this folder or into this database."""


@dataclass
class BackupResult:
    database: Path
    uploads: Path
    files: int


def backup(database: Database, upload_dir: str | Path, dest: str | Path) -> BackupResult:
    """Copy the live database (SQLite online backup, or pg_dump) and the uploads folder into dest."""
    if not isinstance(database, (SqliteDatabase, PostgresqlDatabase)):
        raise BackupRefused(N_("Only SQLite and PostgreSQL databases can be backed up."))
    dest, upload_dir = Path(dest), Path(upload_dir)
    uploads_copy = dest / UPLOADS_NAME
    if dest.exists() and not dest.is_dir():
        raise BackupRefused(N_("%(dest)s is a file, not a folder."), dest=str(dest))
    if any(path.exists() for path in (dest / DATABASE_NAME, dest / DUMP_NAME, uploads_copy)):
        raise BackupRefused(N_("%(dest)s already holds a backup; choose an empty folder."), dest=str(dest))
    # Copying the uploads into a folder inside them would copy the copy, without end.
    if upload_dir.exists() and dest.resolve().is_relative_to(upload_dir.resolve()):
        raise BackupRefused(N_("The backup folder cannot be inside the uploads folder."))
    if isinstance(database, PostgresqlDatabase):
        tool = _pg_tool("pg_dump")  # before creating anything: a missing tool leaves no empty folder
    # The copy holds the same personal data as the live database: readable by its owner only.
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)

    if isinstance(database, PostgresqlDatabase):
        db_copy = _dump_postgresql(database, tool, dest)
    else:
        db_copy = _copy_sqlite(database, dest)

    if upload_dir.is_dir():
        shutil.copytree(upload_dir, uploads_copy)
    else:
        uploads_copy.mkdir()
    files = sum(1 for path in uploads_copy.rglob("*") if path.is_file())
    return BackupResult(database=db_copy, uploads=uploads_copy, files=files)


def _copy_sqlite(database: SqliteDatabase, dest: Path) -> Path:
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
    partial.rename(dest / DATABASE_NAME)
    return dest / DATABASE_NAME


def _dump_postgresql(database: PostgresqlDatabase, pg_dump: str, dest: Path) -> Path:
    partial = dest / (DUMP_NAME + ".partial")
    partial.touch(mode=0o600)
    try:
        # pg_dump reads every table in one repeatable-read transaction: a consistent snapshot while the
        # application keeps writing. The custom format is compressed and restores with pg_restore.
        _run([pg_dump, "--format=custom", "--file", str(partial), "--dbname", _conninfo(database)], database,
             BackupRefused, N_("pg_dump failed: %(error)s"))
        # A dump that pg_restore cannot read is no backup.
        _run([_pg_tool("pg_restore"), "--list", str(partial)], database, BackupRefused,
             N_("The dump cannot be read back: %(error)s"))
    except BackupRefused:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(dest / DUMP_NAME)
    return dest / DUMP_NAME


def restore(database: Database, upload_dir: str | Path, src: str | Path, force: bool = False) -> BackupResult:
    """Bring back a backup folder made by backup() into the database and the uploads folder.

    A database that already holds tables, or an uploads folder that holds files, is replaced only with
    force: a restore over live data is a deliberate act (stop the web server and the worker first).
    """
    src, upload_dir = Path(src), Path(upload_dir)
    if not src.exists():
        raise RestoreRefused(N_("%(src)s does not exist."), src=str(src))
    if not src.is_dir():
        raise RestoreRefused(N_("%(src)s is a file, not a backup folder."), src=str(src))
    sqlite_copy, dump, uploads = src / DATABASE_NAME, src / DUMP_NAME, src / UPLOADS_NAME
    if not (sqlite_copy.is_file() or dump.is_file()) or not uploads.is_dir():
        raise RestoreRefused(N_("%(src)s holds no backup: it needs %(database)s or %(dump)s, and %(uploads)s."),
                             src=str(src), database=DATABASE_NAME, dump=DUMP_NAME, uploads=UPLOADS_NAME + "/")
    if isinstance(database, PostgresqlDatabase) and not dump.is_file():
        raise RestoreRefused(N_("This backup holds a SQLite database; the database in use is PostgreSQL."))
    if isinstance(database, SqliteDatabase) and not sqlite_copy.is_file():
        raise RestoreRefused(N_("This backup holds a PostgreSQL dump; the database in use is SQLite."))
    if not isinstance(database, (SqliteDatabase, PostgresqlDatabase)):
        raise RestoreRefused(N_("Only SQLite and PostgreSQL databases can be restored."))
    if upload_dir.exists() and upload_dir.resolve().is_relative_to(src.resolve()):
        raise RestoreRefused(N_("The uploads folder cannot be inside the backup folder."))
    if not force:
        if database.get_tables():
            raise RestoreRefused(N_("The database is not empty; restoring would replace it. Stop the server "
                                    "and the worker, then run the restore again with --force."))
        if upload_dir.is_dir() and any(upload_dir.iterdir()):
            raise RestoreRefused(N_("The uploads folder %(path)s is not empty; restoring would replace it. "
                                    "Run the restore again with --force."), path=str(upload_dir))

    if isinstance(database, PostgresqlDatabase):
        _restore_postgresql(database, dump)
    else:
        _restore_sqlite(database, sqlite_copy)
        for path in sqlite_files(database.database):
            make_private(path)
    _replace_folder(uploads, upload_dir)
    # A backup copied with cp, or made before the rule, may be readable by everyone: the copies are not.
    make_private(upload_dir, recursive=True)
    files = sum(1 for path in upload_dir.rglob("*") if path.is_file())
    return BackupResult(database=Path(dump if isinstance(database, PostgresqlDatabase) else sqlite_copy),
                        uploads=upload_dir, files=files)


def _restore_sqlite(database: SqliteDatabase, copy: Path) -> None:
    source = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        try:
            (result,) = source.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as err:
            result = str(err)
        if result != "ok":
            raise RestoreRefused(N_("The backed-up database failed its integrity check: %(result)s."), result=result)
        # The backup API in reverse: every page of the live database is replaced in one write transaction,
        # so a reader sees the old database or the restored one, never a mixture, and the WAL stays right.
        source.backup(database.connection())
    finally:
        source.close()


def _restore_postgresql(database: PostgresqlDatabase, dump: Path) -> None:
    pg_restore, psql = _pg_tool("pg_restore"), _pg_tool("psql")
    # Every table goes (not only those in the dump: a table a newer migration made would otherwise stay
    # beside the restored ones), in the same transaction as the restore: a dump that turns out damaged
    # half-way leaves the database as it was. No owners or grants: the tables belong to the role that
    # restores, whatever role took the dump.
    drop = "".join(f'DROP TABLE IF EXISTS "{name}" CASCADE;\n' for name in database.get_tables())
    reader = subprocess.Popen([pg_restore, "--no-owner", "--no-privileges", "--file", "-", str(dump)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    writer = subprocess.Popen([psql, "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--dbname",
                               _conninfo(database)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=_pg_env(database))
    read_ok = False
    try:
        writer.stdin.write(("BEGIN;\n" + drop).encode())
        shutil.copyfileobj(reader.stdout, writer.stdin)
        read_ok = reader.wait() == 0
        # COMMIT only after the whole dump was read: psql ends a transaction left open by rolling it back.
        writer.stdin.write(b"COMMIT;\n" if read_ok else b"ROLLBACK;\n")
        writer.stdin.close()
    except BrokenPipeError:  # psql stopped at an error; its message says which
        pass
    finally:
        reader.stdout.close()  # a pg_restore still writing stops too
        reader.wait()
        if not writer.stdin.closed:
            try:
                writer.stdin.close()
            except BrokenPipeError:
                pass
    if writer.wait() != 0:
        raise RestoreRefused(N_("The restore into PostgreSQL failed: %(error)s"),
                             error=writer.stderr.read().decode().strip()[-1000:])
    if not read_ok:
        raise RestoreRefused(N_("pg_restore failed: %(error)s"), error=reader.stderr.read().decode().strip()[-1000:])


def _replace_folder(source: Path, target: Path) -> None:
    # Copied beside the target first, then swapped: a copy that fails half-way leaves the old folder whole.
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(target.name + ".restoring")
    if incoming.exists():
        shutil.rmtree(incoming)
    shutil.copytree(source, incoming)
    if target.exists():
        shutil.rmtree(target)
    incoming.rename(target)


def _pg_tool(name: str) -> str:
    """Return the path of a PostgreSQL client program (on PATH, else the newest under /usr/lib/postgresql)."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                                   key=_version_key, reverse=True)), None)
    if not found:
        raise BackupRefused(N_("%(tool)s was not found; install the PostgreSQL client (Debian's "
                               "postgresql-client)."), tool=name)
    return found


def _version_key(path: str) -> tuple:
    version = Path(path).parent.parent.name
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def _conninfo(database: PostgresqlDatabase) -> str:
    """Return the libpq connection string of the database, without its password (given in PGPASSWORD)."""
    params = {key: value for key, value in database.connect_params.items() if key != "password"}
    params["dbname"] = database.database

    def quote(value) -> str:
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return " ".join(f"{key}={quote(value)}" for key, value in params.items() if value is not None)


def _run(command: list[str], database: PostgresqlDatabase, refusal: type[DomainError], message: str) -> None:
    """Run a PostgreSQL client program; its error output becomes the refusal's message."""
    done = subprocess.run(command, env=_pg_env(database), capture_output=True, text=True)
    if done.returncode != 0:
        raise refusal(message, error=(done.stderr or done.stdout).strip()[-1000:])


def _pg_env(database: PostgresqlDatabase) -> dict:
    """Return the environment of a client program: the password travels here, not on the command line."""
    env = dict(os.environ)
    if database.connect_params.get("password"):
        env["PGPASSWORD"] = str(database.connect_params["password"])
    return env
