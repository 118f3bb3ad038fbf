"""Files that hold personal data are their owner's only (issue 15): folders 0700, files 0600.

The database, the secret key, uploaded documents, import files, the board's workbook and the worker's
queue all live under the instance folder. Every program that writes there (the web server, the worker,
the command line) closes its umask first, so whatever it creates is its owner's alone, whatever the shell
that started it allowed; folders that already exist are closed at start, and a restore closes what it
copies back.
"""
import os
from pathlib import Path

# New files 0600 and folders 0700: nobody but the owner reads, writes or lists them.
PRIVATE_UMASK = 0o077


def close_umask() -> None:
    """Make everything this process creates from now on readable by its owner only."""
    os.umask(PRIVATE_UMASK)


def private_folder(path) -> Path:
    """Create the folder (and its parents) if missing, and make it its owner's only (0700)."""
    folder = Path(path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    make_private(folder)
    return folder


def make_private(path, recursive: bool = False) -> None:
    """Give a folder 0700 (with recursive, every folder under it 0700 and every file 0600), or a file 0600.

    A path owned by someone else (a shared folder an administrator set up) is left as it is.
    """
    path = Path(path)
    paths = [path, *path.rglob("*")] if recursive and path.is_dir() else [path]
    for item in paths:
        try:
            if item.is_symlink():
                continue
            item.chmod(0o700 if item.is_dir() else 0o600)
        except (FileNotFoundError, PermissionError):
            continue


def sqlite_files(database_path) -> list[Path]:
    """Return a SQLite database file and its write-ahead log and shared-memory files, those that exist."""
    base = Path(database_path)
    return [p for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm")) if p.exists()]
