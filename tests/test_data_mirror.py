"""Mirror handling: SHA256SUMS verification, safe tar extraction, gunzip; the real mirror."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
import torch

from conftest import mirror_dir
from fixtures.data_fixtures import tar_folder, write_image_tree, write_sums
from starssl.data import DataConfig, load_split
from starssl.data.mirror import gunzip_to, read_sums, safe_extract, verify_file, verify_mirror
from starssl.errors import DataError


def _mirror(tmp_path: Path) -> Path:
    mirror = tmp_path / "mirror"
    (mirror / "sub").mkdir(parents=True)
    (mirror / "sub" / "a.bin").write_bytes(b"hello")
    (mirror / "b.bin").write_bytes(b"world")
    write_sums(mirror)
    return mirror


def test_verify_good_files_against_independent_hashes(tmp_path):
    mirror = _mirror(tmp_path)
    sums = verify_mirror(mirror)
    assert sums == {
        "sub/a.bin": hashlib.sha256(b"hello").hexdigest(),
        "b.bin": hashlib.sha256(b"world").hexdigest(),
    }


def test_corrupted_file_names_file_and_both_hashes(tmp_path):
    mirror = _mirror(tmp_path)
    (mirror / "sub" / "a.bin").write_bytes(b"hellO")
    with pytest.raises(DataError) as err:
        verify_file(mirror, "sub/a.bin")
    msg = str(err.value)
    assert "a.bin" in msg and "\n" not in msg
    assert hashlib.sha256(b"hello").hexdigest() in msg  # expected
    assert hashlib.sha256(b"hellO").hexdigest() in msg  # actual
    with pytest.raises(DataError):
        verify_mirror(mirror)


def test_unlisted_missing_and_malformed(tmp_path):
    mirror = _mirror(tmp_path)
    (mirror / "extra.bin").write_bytes(b"x")
    with pytest.raises(DataError, match="not listed"):
        verify_file(mirror, "extra.bin")
    (mirror / "b.bin").unlink()
    with pytest.raises(DataError, match="missing"):
        verify_file(mirror, "b.bin")
    (mirror / "SHA256SUMS").write_text("nothex  file\n")
    with pytest.raises(DataError, match="malformed"):
        read_sums(mirror)
    with pytest.raises(DataError, match="no SHA256SUMS"):
        read_sums(tmp_path)


def test_safe_extract_extracts_a_clean_tree(tmp_path):
    write_image_tree(tmp_path / "src", {"train": {"a": 2}, "test": {"a": 1}})
    archive = tmp_path / "t.tar.gz"
    tar_folder(archive, tmp_path / "src", "top")
    safe_extract(archive, tmp_path / "out")
    files = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.jpg")
    )
    assert files == ["top/test/a/0000.jpg", "top/train/a/0000.jpg", "top/train/a/0001.jpg"]


def _evil_tar(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> None:
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("top/ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        if member.isfile():
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)


@pytest.mark.parametrize(
    "name,kind",
    [
        ("../escape.txt", "file"),
        ("top/../../escape.txt", "file"),
        ("/abs/escape.txt", "file"),
        ("top/link", "symlink"),
    ],
)
def test_malicious_member_is_rejected_and_nothing_written(tmp_path, name, kind):
    member = tarfile.TarInfo(name)
    if kind == "symlink":
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = tmp_path / "evil.tar.gz"
    _evil_tar(archive, member)
    dest = tmp_path / "a" / "b"
    with pytest.raises(DataError, match="unsafe archive"):
        safe_extract(archive, dest)
    assert not (tmp_path / "a" / "escape.txt").exists()
    assert not (dest / "top" / "ok.txt").exists()  # checked before anything is written


def test_gunzip_is_exact_and_atomic(tmp_path, monkeypatch):
    payload = os.urandom(5000)
    src = tmp_path / "f.gz"
    src.write_bytes(gzip.compress(payload))
    gunzip_to(src, tmp_path / "out" / "f")
    assert (tmp_path / "out" / "f").read_bytes() == payload

    def broken_copy(fin, fout, length=0):
        fout.write(fin.read(10))
        raise OSError("disk full")

    monkeypatch.setattr("starssl.data.mirror.shutil.copyfileobj", broken_copy)
    with pytest.raises(OSError):
        gunzip_to(src, tmp_path / "out" / "g")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f"]


@pytest.mark.skipif(
    mirror_dir() is None,
    reason="no offline mirror: $STARSSL_DATA_MIRROR and ../shared/datasets hold no SHA256SUMS",
)
def test_real_mirror_checksums_and_fashion_mnist_test_split(tmp_path):
    mirror = mirror_dir()
    assert len(verify_mirror(mirror)) >= 5
    data = load_split("fashion_mnist", "test", DataConfig(root=tmp_path, mirror=mirror), 28)
    assert data.images.shape == (10000, 3, 28, 28) and data.images.dtype == torch.uint8
    assert torch.bincount(data.labels).tolist() == [1000] * 10
    assert data.class_names[0] == "T-shirt/top" and data.metric == "top1"
