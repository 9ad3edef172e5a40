"""The DuckDB build copy started early, in the background (orchestration/publishing.py,
EarlyBuildCopy): used only when it is a copy of the published file as it is when the build starts."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from orchestration import publishing
from orchestration.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    published = tmp_path / "warehouse" / "warehouse.duckdb"
    published.parent.mkdir()
    published.write_bytes(os.urandom(3 * 2**20))
    return replace(Settings.from_env(), target="duckdb", duckdb_path=published)


def start_and_wait(settings: Settings) -> publishing.EarlyBuildCopy:
    publishing.start_early_build_copy(settings)
    early = publishing._early_copies[settings.duckdb_build_path]
    early._thread.join()
    return early


def test_early_copy_becomes_the_build(settings, monkeypatch):
    start_and_wait(settings)
    # the build step must not copy again: a second copy would fail here
    monkeypatch.setattr(publishing.shutil, "copyfile", lambda *a: pytest.fail("copied twice"))
    build = publishing.prepare_build(settings)
    assert build.read_bytes() == settings.duckdb_path.read_bytes()
    assert not publishing.early_copy_path(build).exists()
    assert settings.duckdb_build_path not in publishing._early_copies


@pytest.mark.parametrize("change", ["replaced", "rewritten_in_place"])
def test_early_copy_of_a_file_since_changed_is_not_used(settings, change):
    start_and_wait(settings)
    new_bytes = os.urandom(3 * 2**20)  # same size: only the file's identity or mtime tells
    if change == "replaced":  # another run published meanwhile (os.replace: a new inode)
        staged = settings.duckdb_path.with_name("staged")
        staged.write_bytes(new_bytes)
        os.replace(staged, settings.duckdb_path)
    else:
        settings.duckdb_path.write_bytes(new_bytes)
        st = settings.duckdb_path.stat()
        os.utime(settings.duckdb_path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    build = publishing.prepare_build(settings)
    assert build.read_bytes() == new_bytes
    assert not publishing.early_copy_path(build).exists()


def test_failed_early_copy_falls_back_to_copying(settings, monkeypatch):
    real_copy = publishing.shutil.copyfile

    def fail_early(src, dst):
        if Path(dst).name.endswith(".early"):
            Path(dst).write_bytes(b"partial")
            raise OSError("disk full")
        return real_copy(src, dst)

    monkeypatch.setattr(publishing.shutil, "copyfile", fail_early)
    early = start_and_wait(settings)
    assert isinstance(early.error, OSError)
    build = publishing.prepare_build(settings)
    assert build.read_bytes() == settings.duckdb_path.read_bytes()
    assert not publishing.early_copy_path(build).exists()


def test_no_early_copy_without_a_published_file_or_on_postgres(settings, tmp_path):
    publishing.start_early_build_copy(replace(settings, duckdb_path=tmp_path / "none" / "warehouse.duckdb"))
    publishing.start_early_build_copy(replace(settings, target="postgres"))
    assert publishing._early_copies == {}


def test_leftover_early_copy_of_a_killed_run_is_removed(settings):
    build = settings.duckdb_build_path
    build.parent.mkdir(parents=True)
    publishing.early_copy_path(build).write_bytes(b"partial, from a killed run")
    assert publishing.prepare_build(settings).read_bytes() == settings.duckdb_path.read_bytes()
    assert not publishing.early_copy_path(build).exists()
