"""Uploaded documents (policy P6.2): checked by content, stored under a random name, verified."""
import hashlib
import os
import re
import uuid
from contextlib import nullcontext
from pathlib import Path

import filetype

from models import Beneficiary, Document, DocumentType, ServiceRequest, db

from . import audit, workflow
from .errors import N_, ValidationError
from .normalize import clean_text

# Detected MIME type → extension of the stored file. The type comes from the bytes,
# never from the name or the Content-Type the browser sent.
ALLOWED_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
ALLOWED_LABEL = "PDF, JPEG, PNG"
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|jpg|png)$")


def _read_limited(source, max_bytes: int) -> bytes:
    """Return the bytes of a stream or bytes value, reading at most one byte past the limit."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:max_bytes + 1])
    return source.read(max_bytes + 1)


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f}".rstrip("0").rstrip(".")


def display_name(name: str | None) -> str:
    """Return the file name as the user sent it, without any folder part, for display only."""
    text = clean_text(re.split(r"[\\/]", name or "")[-1]).replace("\x00", "")
    return text[:255] or "document"


def check_content(data: bytes, max_bytes: int) -> str:
    """Return the detected MIME type of an upload, or raise ValidationError saying what is wrong."""
    if not data:
        raise ValidationError(N_("The file is empty."), field="file")
    if len(data) > max_bytes:
        raise ValidationError(N_("The file is larger than the limit of %(limit)s MB."), field="file",
                              limit=_megabytes(max_bytes))
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ALLOWED_TYPES:
        raise ValidationError(N_("This file is not an allowed type. Upload a PDF, JPEG or PNG file (%(types)s)."),
                              field="file", types=ALLOWED_LABEL)
    return kind.mime


def store_upload(source, original_name: str | None, document_type: DocumentType | None, *,
                 request: ServiceRequest | None = None, beneficiary: Beneficiary | None = None,
                 upload_dir: str | os.PathLike, max_bytes: int, actor=None) -> Document:
    """Check an upload by its content, write it under a random name and record it; return the Document.

    Filed on a request, it is a write to the case: the actor must pass the rules table's "file a
    document" rule (services.workflow); without an actor only a named exemption lets it through.
    """
    if document_type is None:
        raise ValidationError(N_("Choose the document type."), field="document_type")
    if request is None and beneficiary is None:
        raise ValidationError(N_("Attach the document to a request or to a beneficiary."), field="request")
    if request is not None and beneficiary is not None and request.beneficiary_id != beneficiary.id:
        raise ValidationError(N_("The request belongs to another beneficiary."), field="beneficiary")
    filing = (workflow.gate("document.file", request, actor) if request is not None and actor is not None
              else nullcontext())
    if request is not None and actor is not None:
        workflow.check("document.file", request, actor)  # before the file is written
    data = _read_limited(source, max_bytes)
    mime = check_content(data, max_bytes)
    folder = Path(upload_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{uuid.uuid4().hex}.{ALLOWED_TYPES[mime]}"
    target = folder / stored_name
    # Written to a temporary name and renamed, so a half-written file is never served.
    partial = folder / (stored_name + ".part")
    partial.write_bytes(data)
    os.replace(partial, target)
    try:
        with db.atomic(), filing:
            document = Document.create(
                request=request, beneficiary=beneficiary, document_type=document_type,
                original_name=display_name(original_name), stored_name=stored_name, content_type=mime,
                size=len(data), sha256=hashlib.sha256(data).hexdigest())
            audit.record("create", document, changes=audit.diff(None, audit.snapshot(document)))
    except Exception:
        target.unlink(missing_ok=True)
        raise
    return document


def stored_path(document: Document, upload_dir: str | os.PathLike) -> Path:
    """Return the file of a document; the stored name is checked so it cannot leave the folder."""
    if not _STORED_NAME.match(document.stored_name or ""):
        raise ValidationError(N_("The document's file is missing."))
    return Path(upload_dir) / document.stored_name


def served_name(document: Document, language: str = "ar") -> str:
    """Return the name a download gets: <document type>-<request number>.<extension of the detected type>.

    Never the uploader's: an "invoice.html" that is really a PNG, or a U+202E that shows "gnp.exe" as
    "exe.png", must not reach the browser or the disk of whoever opens it. Without a request, the
    beneficiary's reference names it.
    """
    kind = document.document_type
    type_name = (kind.name_en if language == "en" and kind.name_en else kind.name_ar) or "document"
    type_name = re.sub(r"\W+", "-", type_name).strip("-_") or "document"
    if document.request_id:
        owner = document.request.number or f"request-{document.request_id}"
    elif document.beneficiary_id:
        owner = document.beneficiary.reference or f"beneficiary-{document.beneficiary_id}"
    else:
        owner = f"document-{document.id}"
    return f"{type_name[:60]}-{owner}.{ALLOWED_TYPES.get(document.content_type, 'bin')}"


def record_download(document: Document, actor: str | None = None) -> None:
    """Write the audit row of a document being opened."""
    audit.record("download", document, details={"original_name": document.original_name,
                                                "request": document.request_id,
                                                "beneficiary": document.beneficiary_id}, actor=actor)


def remove_file(document: Document, upload_dir: str | os.PathLike) -> None:
    """Remove a deleted document's file from the upload folder."""
    try:
        stored_path(document, upload_dir).unlink(missing_ok=True)
    except ValidationError:
        pass
