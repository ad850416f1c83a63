"""Content-addressed image storage: each PNG is kept once, under its SHA-256.

Two stores with the same three methods. Every call happens inside a write or read
transaction of the session store, which passes its SQLAlchemy session along:

- `FileBlobStore` (the default) keeps files in the data folder. A new image is written to
  a temporary file, flushed to disk and renamed into place before any row points to it,
  so a crash leaves at most an unreferenced file, never a row without its image.
- `TableBlobStore` keeps the bytes in the `blobs` table, for deployments where several
  app machines share only the database; there image and row commit together.

`remove_unreferenced` runs while the session store holds its write lock, so no commit can
be between writing an image and pointing a row at it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .errors import NotFound, StoreError
from .models import BlobRow


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore(Protocol):
    def put(self, db: Session, data: bytes) -> str:
        """Store `data` unless it is there already; return its SHA-256."""
        ...

    def get(self, db: Session, sha256: str) -> bytes:
        """The bytes stored under `sha256`."""
        ...

    def remove_unreferenced(self, db: Session, referenced: set[str]) -> int:
        """Delete every image whose hash is not in `referenced`; return how many."""
        ...


class FileBlobStore:
    """PNG files under `root`, sharded by hash: root/ab/cd/abcd….png."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.png"

    def put(self, db: Session, data: bytes) -> str:
        sha256 = sha256_hex(data)
        path = self.path(sha256)
        if path.exists():
            return sha256
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
            _fsync_folder(path.parent)
        except OSError as error:  # a full disk, a read-only folder: no row will point here
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            raise StoreError(
                f"Cannot write an image to {self.root} ({error.strerror}); free some disk space "
                "or make the data folder writable, then try again: nothing was changed."
            ) from None
        return sha256

    def get(self, db: Session, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise NotFound(
                f"Image {sha256[:12]} is missing from {self.root}; restore that folder "
                "from a backup."
            ) from None

    def remove_unreferenced(self, db: Session, referenced: set[str]) -> int:
        removed = 0
        try:
            for path in self.root.glob("*/*/*.png"):
                if path.stem not in referenced:
                    path.unlink()
                    removed += 1
            # Half-written files of a process that was killed mid-write: no writer is active
            # now, since writers hold the same lock as this call.
            for path in self.root.glob("*/*/*.tmp"):
                path.unlink()
        except OSError as error:
            raise StoreError(
                f"Cannot remove unused images from {self.root} ({error.strerror}); make the "
                "data folder writable and run pixchat gc again."
            ) from None
        return removed


class TableBlobStore:
    """Image bytes in the `blobs` table of the session store's own database."""

    def put(self, db: Session, data: bytes) -> str:
        sha256 = sha256_hex(data)
        if db.get(BlobRow, sha256) is None:
            try:
                with db.begin_nested():
                    db.add(BlobRow(sha256=sha256, data=data))
            except IntegrityError:
                pass  # another session stored the same image a moment ago
        return sha256

    def get(self, db: Session, sha256: str) -> bytes:
        data = db.scalar(select(BlobRow.data).where(BlobRow.sha256 == sha256))
        if data is None:
            raise NotFound(f"Image {sha256[:12]} is missing from the database's blobs table.")
        return data

    def remove_unreferenced(self, db: Session, referenced: set[str]) -> int:
        stored = set(db.scalars(select(BlobRow.sha256)))
        unreferenced = stored - referenced
        if unreferenced:
            db.execute(delete(BlobRow).where(BlobRow.sha256.in_(unreferenced)))
        return len(unreferenced)


def _fsync_folder(folder: Path) -> None:
    """Make a rename inside `folder` survive a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
