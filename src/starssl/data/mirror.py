"""Offline mirrors: checksum verification, safe tar extraction, IDX gunzip.

A mirror is a folder with a ``SHA256SUMS`` file (``<hex>  <relative path>`` per line, as written
by ``sha256sum``) that stands in for the public downloads on machines without internet.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from starssl.errors import DataError
from starssl.io import atomic_path, sha256_file

SUMS_NAME = "SHA256SUMS"


def read_sums(mirror: Path) -> dict[str, str]:
    """Parse ``<mirror>/SHA256SUMS`` into {relative posix path: lowercase hex digest}."""
    sums_file = mirror / SUMS_NAME
    if not sums_file.is_file():
        raise DataError(
            f"mirror {mirror} has no {SUMS_NAME}; point STARSSL_DATA_MIRROR (or data.mirror) at "
            "the folder that holds it"
        )
    sums: dict[str, str] = {}
    for lineno, line in enumerate(sums_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition(" ")
        name = name.strip().removeprefix("*")  # "*" marks binary mode in sha256sum output
        if not sep or len(digest) != 64 or not name:
            raise DataError(f"{sums_file}:{lineno}: malformed line {line!r}")
        sums[PurePosixPath(name).as_posix()] = digest.lower()
    return sums


def verify_file(mirror: Path, relpath: str, sums: dict[str, str] | None = None) -> Path:
    """Check one mirrored file against SHA256SUMS and return its path; DataError on mismatch."""
    sums = read_sums(mirror) if sums is None else sums
    path = mirror / relpath
    if relpath not in sums:
        raise DataError(
            f"mirror file {relpath} is not listed in {mirror / SUMS_NAME}, so it cannot be "
            "verified; restore the mirror's SHA256SUMS or the file"
        )
    if not path.is_file():
        raise DataError(f"mirror file {path} is missing; restore the mirror or unset the mirror")
    actual = sha256_file(path)
    if actual != sums[relpath]:
        raise DataError(
            f"checksum mismatch for mirror file {path}: expected sha256 {sums[relpath]}, got "
            f"{actual}; the copy is corrupt or incomplete, so replace it from the original source"
        )
    return path


def verify_mirror(mirror: Path) -> dict[str, str]:
    """Verify every file listed in the mirror's SHA256SUMS; return the verified digests."""
    sums = read_sums(mirror)
    for relpath in sums:
        verify_file(mirror, relpath, sums)
    return sums


def _check_member(member: tarfile.TarInfo, dest: Path, archive: Path) -> None:
    """Reject members that would land outside ``dest`` or are not plain files/folders.

    A lexical check suffices because links are rejected, so no extracted path can redirect a
    later one; it avoids a realpath call per member (tens of thousands for CIFAR).
    """
    target = os.path.normpath(os.path.join(dest, member.name))
    inside = target == str(dest) or target.startswith(str(dest) + os.sep)
    if PurePosixPath(member.name).is_absolute() or not inside:
        raise DataError(
            f"unsafe archive {archive}: member {member.name!r} would be written outside {dest}; "
            "refusing to extract, so replace the archive with a trusted copy"
        )
    if not (member.isfile() or member.isdir()):
        raise DataError(
            f"unsafe archive {archive}: member {member.name!r} is a link or device; refusing to "
            "extract, so replace the archive with a trusted copy"
        )


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a tar(.gz) into ``dest`` once every member is known to stay inside it.

    Two sequential streaming passes (check all, then extract) so nothing is written from an
    unsafe archive and the gzip stream is never rewound.
    """
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    with tarfile.open(archive, "r|*") as tar:
        for member in tar:
            _check_member(member, dest, archive)
    with tarfile.open(archive, "r|*") as tar:
        for member in tar:
            _check_member(member, dest, archive)  # the same stream again, re-checked anyway
            # The "data" filter repeats the safety checks inside tarfile (defence in depth).
            tar.extract(member, dest, filter="data")


def gunzip_to(src: Path, dest: Path) -> None:
    """Decompress ``src`` (.gz) to ``dest`` atomically: a crash leaves no half-written file."""
    with atomic_path(dest) as tmp, gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
