"""Backups of a SQLite database, taken while the service runs, and restoring one.

``backup`` copies the database with SQLite's online backup (a consistent snapshot: every
transaction the service committed before it, none after, whatever it writes meanwhile) into
one self-contained file, checks the copy (``PRAGMA integrity_check``) and only then puts it
where it was asked, so that a backup that exists is whole.

``restore`` puts such a file in place of the database, with the service stopped (a service
serving the database holds its ``.serving`` lock, and the restore is refused). The database it
replaces is kept beside it with its write-ahead log, never deleted: a restore of the wrong file
is undone by restoring that one. Files are written owner-only; a file system's error (no
space, no permission) is a refusal that says so, and leaves nothing half-written.

PostgreSQL has its own tools for both (``pg_dump``, ``pg_restore``; docs/operations.md).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
import os
from pathlib import Path
import shutil
import sqlite3

from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.replicas import ReplicaRefused, serving_lock
from ioe_aggregator.store import migrations


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """A database file as a backup sees it: where, its schema, its readings, its size."""

    path: Path
    schema: int
    readings: int
    size: int

    def as_dict(self) -> dict[str, object]:
        """Return the snapshot as JSON-ready data."""
        return {
            "path": str(self.path),
            "schema": self.schema,
            "readings": self.readings,
            "bytes": self.size,
        }


def sqlite_path(url: str) -> Path:
    """Return the file a ``sqlite:///`` URL names; refuse a PostgreSQL URL."""
    if not url.startswith("sqlite:///"):
        raise Refused(
            Kind.CONFLICT,
            "the database is PostgreSQL: back it up with pg_dump and restore it with "
            "pg_restore (docs/operations.md)",
            code="not_sqlite",
        )
    path = Path(url.removeprefix("sqlite:///"))
    if str(path) == ":memory:":
        raise Refused(Kind.CONFLICT, "the database is in memory: nothing is kept to back up")
    return path


def _checked(path: Path) -> Snapshot:
    """Return what a database file holds; refuse one that is damaged or not ours, or newer."""
    if not path.is_file():
        raise Refused(Kind.NOT_FOUND, f"no file at {path}", code="bad_backup")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise Refused(Kind.INVALID, f"{path}: not a database: {err}", code="bad_backup") from err
    try:
        (integrity,) = connection.execute("PRAGMA integrity_check").fetchone()
        if integrity != "ok":
            raise Refused(Kind.INVALID, f"{path} is damaged: {integrity}", code="bad_backup")
        schema = int(connection.execute(migrations.SELECT_VERSION).fetchone()[0])
        readings = int(connection.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
    except sqlite3.Error as err:
        raise Refused(
            Kind.INVALID, f"{path} is not an aggregator's database: {err}", code="bad_backup"
        ) from err
    finally:
        connection.close()
    if schema > len(migrations.MIGRATIONS):
        raise Refused(
            Kind.CONFLICT,
            f"{path} has schema v{schema}, newer than this aggregator's "
            f"(v{len(migrations.MIGRATIONS)}): upgrade the aggregator first",
            code="bad_backup",
        )
    return Snapshot(path=path, schema=schema, readings=readings, size=path.stat().st_size)


def backup(database: Path, target: Path) -> Snapshot:
    """Copy a (live) SQLite database into ``target``, consistent and checked; return it.

    The copy is readable by its owner only (it holds password and token hashes).
    """
    try:
        return _backup(database, target)
    except OSError as err:
        target.with_name(f"{target.name}.partial").unlink(missing_ok=True)
        raise Refused(Kind.CONFLICT, f"backup to {target} failed: {err}") from err


def _backup(database: Path, target: Path) -> Snapshot:
    if not database.is_file():
        raise Refused(Kind.NOT_FOUND, f"no database at {database}", code="no_database")
    _check_target(database, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    source = sqlite3.connect(database, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
            # One file: no write-ahead log beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    except sqlite3.Error as err:
        partial.unlink(missing_ok=True)
        raise Refused(Kind.CONFLICT, f"backup of {database} failed: {err}") from err
    finally:
        source.close()
    try:
        _checked(partial)
    except Refused:
        partial.unlink(missing_ok=True)
        raise
    _flush(partial)
    partial.replace(target)
    _flush(target.parent)
    return _checked(target)


def _check_target(database: Path, target: Path) -> None:
    """Refuse a backup's target that is the database or one of its files, or not a file."""
    resolved, live = target.resolve(), database.resolve()
    if resolved.parent == live.parent and resolved.name.startswith(live.name):
        raise Refused(
            Kind.INVALID,
            f"{target} is the database or one of its files: choose another name",
            code="bad_target",
        )
    if target.exists() and not target.is_file():
        raise Refused(
            Kind.INVALID, f"{target} is not a file: name the file to write", code="bad_target"
        )


def restore(backup_file: Path, database: Path) -> tuple[Snapshot, Path | None]:
    """Put a backup in place of the stopped service's database.

    Return the database as restored, and where the one it replaced was kept (None: none).
    The replaced database is kept whole: its file and its write-ahead log, under new names
    (SQLite opens the kept file with its log), whatever state it is in. At no moment is there
    no database: the kept name is linked first, then the restored file renamed over the old.
    """
    try:
        return _restore(backup_file, database)
    except OSError as err:
        raise Refused(Kind.CONFLICT, f"restore of {database} failed: {err}") from err


def _restore(backup_file: Path, database: Path) -> tuple[Snapshot, Path | None]:
    _checked(backup_file)
    if not database.parent.is_dir():
        raise Refused(
            Kind.NOT_FOUND, f"no folder {database.parent} for the database", code="no_database"
        )
    try:
        lock = serving_lock(database)
    except ReplicaRefused as err:
        raise Refused(Kind.CONFLICT, f"{err}: stop it before restoring", code="serving") from err
    incoming = database.with_name(f"{database.name}.restoring")
    try:
        shutil.copyfile(backup_file, incoming)
        kept = _keep(database) if database.exists() else None
        _same_owner(incoming, kept)
        _flush(incoming)
        incoming.replace(database)
        _flush(database.parent)
    finally:
        incoming.unlink(missing_ok=True)
        if lock is not None:
            os.close(lock)
    return _checked(database), kept


def _keep(database: Path) -> Path:
    """Give the database (and its log) a second name beside it; return the kept file."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kept = database.with_name(f"{database.name}.before-restore-{stamp}")
    os.link(database, kept)
    for suffix in ("-wal", "-shm"):
        side = database.with_name(database.name + suffix)
        if side.exists():
            side.replace(kept.with_name(kept.name + suffix))
    return kept


def _same_owner(path: Path, like: Path | None) -> None:
    """Give the restored file the replaced one's owner and mode (owner-only when none)."""
    if like is None:
        path.chmod(0o600)
        return
    found = like.stat()
    path.chmod(found.st_mode & 0o777)
    with contextlib.suppress(PermissionError):
        os.chown(path, found.st_uid, found.st_gid)


def _flush(path: Path) -> None:
    """Make a written file (or a folder's entries) durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
