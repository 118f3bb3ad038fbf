"""The association's reference documents (policy P4): bylaws, this policy, the selection mechanism …

Each document keeps every version uploaded; the newest is the one in force. Files are checked by
their content and stored under a random name like request documents (services.documents), in
UPLOAD_DIR/references, and opened only through an audited download.
"""
import hashlib
import os
import re
import uuid
from pathlib import Path

from peewee import fn

from models import ReferenceDocument, ReferenceDocumentVersion, User, db
from models.choices import codes
from models.reference_document import REFERENCE_KINDS

from . import audit
from .documents import ALLOWED_TYPES, check_content, display_name, stored_path
from .errors import N_, PermissionDenied, ValidationError
from .normalize import clean_long_text, clean_text
from .roles import can

SUBFOLDER = "references"


def folder(upload_dir: str | os.PathLike) -> Path:
    """Return the folder reference files are kept in."""
    return Path(upload_dir) / SUBFOLDER


def normalize_document(document: ReferenceDocument) -> ReferenceDocument:
    """Validate a reference document's title and kind."""
    document.title_ar = clean_text(document.title_ar)
    document.title_en = clean_text(document.title_en)
    document.description = clean_long_text(document.description)
    if not document.title_ar:
        raise ValidationError(N_("Write the title in Arabic."), field="title_ar")
    if document.kind not in codes(REFERENCE_KINDS):
        raise ValidationError(N_("Choose the kind of document."), field="kind")
    return document


def _check_manager(actor: User) -> None:
    if not can(actor.role, "references.manage"):
        raise PermissionDenied(N_("Your role cannot upload reference documents."))


def _write(source, upload_dir, max_bytes: int) -> tuple[bytes, str, Path]:
    """Check an upload by its content and write it under a random name; return (data, mime, path)."""
    data = bytes(source[:max_bytes + 1]) if isinstance(source, (bytes, bytearray)) else source.read(max_bytes + 1)
    mime = check_content(data, max_bytes)
    target_dir = folder(upload_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{uuid.uuid4().hex}.{ALLOWED_TYPES[mime]}"
    # Written to a temporary name and renamed, so a half-written file is never served.
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, target)
    return data, mime, target


def add_version(document: ReferenceDocument, source, original_name: str | None, actor: User, *,
                upload_dir: str | os.PathLike, max_bytes: int, note: str | None = None) -> ReferenceDocumentVersion:
    """Upload a new version of a reference document; the older versions stay."""
    _check_manager(actor)
    data, mime, target = _write(source, upload_dir, max_bytes)
    try:
        with db.atomic():
            number = (ReferenceDocumentVersion.select(fn.MAX(ReferenceDocumentVersion.number))
                      .where(ReferenceDocumentVersion.document == document).scalar() or 0) + 1
            version = ReferenceDocumentVersion.create(
                document=document, number=number, original_name=display_name(original_name),
                stored_name=target.name, content_type=mime, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                note=clean_long_text(note), uploaded_by=actor)
            audit.record("create", version, changes=audit.diff(None, audit.snapshot(version)), actor=actor.username)
    except Exception:
        target.unlink(missing_ok=True)
        raise
    return version


def create(document: ReferenceDocument, source, original_name: str | None, actor: User, *,
           upload_dir: str | os.PathLike, max_bytes: int, note: str | None = None) -> ReferenceDocument:
    """Save a new reference document with its first version, in one transaction."""
    _check_manager(actor)
    normalize_document(document)
    with db.atomic():
        document.save(force_insert=True)
        audit.record("create", document, changes=audit.diff(None, audit.snapshot(document)), actor=actor.username)
        add_version(document, source, original_name, actor, upload_dir=upload_dir, max_bytes=max_bytes, note=note)
    return document


def versions(document: ReferenceDocument) -> list[ReferenceDocumentVersion]:
    """Return a document's versions, the newest (the one in force) first."""
    return list(ReferenceDocumentVersion.select().where(ReferenceDocumentVersion.document == document)
                .order_by(ReferenceDocumentVersion.number.desc()))


def version_path(version: ReferenceDocumentVersion, upload_dir: str | os.PathLike) -> Path:
    """Return the file of a version; its stored name is checked so it cannot leave the folder."""
    return stored_path(version, folder(upload_dir))


def record_download(version: ReferenceDocumentVersion, actor: str | None = None) -> None:
    """Write the audit row of a reference file being opened."""
    audit.record("download", version, actor=actor, details={"document": version.document_id, "number": version.number,
                                                            "original_name": version.original_name})


def remove_files(stored_names: list[str], upload_dir: str | os.PathLike) -> None:
    """Remove the files of deleted versions (after their rows are gone)."""
    for name in stored_names:
        try:
            stored_path(ReferenceDocumentVersion(stored_name=name), folder(upload_dir)).unlink(missing_ok=True)
        except ValidationError:
            pass


def served_name(version: ReferenceDocumentVersion, language: str = "ar") -> str:
    """Return the name a download gets: <title>-v<version>.<extension of the detected type>, never the uploader's."""
    document = version.document
    title = (document.title_en if language == "en" and document.title_en else document.title_ar) or "document"
    title = re.sub(r"\W+", "-", title).strip("-_") or "document"
    return f"{title[:60]}-v{version.number}.{ALLOWED_TYPES.get(version.content_type, 'bin')}"
