"""The landing zone's snapshot: one consistent version of a file, whatever its writer does meanwhile."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lakehouse_assets.core.lake.landing import LandingFileChanging, stable_copy
from lakehouse_assets.resources.lake import LakeResource


def test_a_file_rewritten_in_place_does_not_change_the_snapshot(tmp_path, monkeypatch):
    """Before: the snapshot was a hard link, sharing the file's bytes: `cp new.csv landing/workers.csv` (an
    in-place rewrite) mid-ingest changed what the ingest was reading."""
    home = tmp_path / "lake"
    (home / "landing").mkdir(parents=True)
    landing = home / "landing" / "people.csv"
    landing.write_bytes(b"id,name\n1,ann\n")
    lake = LakeResource(home=str(home))
    with lake.landing_file("people") as snapshot:
        with open(landing, "r+b") as f:  # what cp and > do: the same inode, new bytes
            f.write(b"id,name\n9,eve\n")
        assert snapshot.read_bytes() == b"id,name\n1,ann\n"
    assert not snapshot.exists()


def test_a_file_still_being_written_is_refused_not_half_read(tmp_path, monkeypatch):
    source, dest = tmp_path / "w.csv", tmp_path / "copy.csv"
    source.write_bytes(b"id\n1\n")
    real = shutil.copyfile

    def copy_while_a_writer_appends(src, dst):
        real(src, dst)
        with open(source, "ab") as f:
            f.write(b"2\n")

    monkeypatch.setattr(shutil, "copyfile", copy_while_a_writer_appends)
    with pytest.raises(LandingFileChanging, match="changed each time it was read"):
        stable_copy(source, dest)
    assert not dest.exists()
    monkeypatch.setattr(shutil, "copyfile", real)
    stable_copy(source, dest)
    assert dest.read_bytes() == source.read_bytes()


def test_the_copy_keeps_every_byte(tmp_path: Path):
    source = tmp_path / "big.csv"
    source.write_bytes(b"id,v\n" + b"".join(f"{i},{i * 7}\n".encode() for i in range(200_000)))
    stable_copy(source, tmp_path / "copy.csv")
    assert (tmp_path / "copy.csv").read_bytes() == source.read_bytes()
