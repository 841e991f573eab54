"""The built wheel: no setuptools deprecation (the licence is an SPDX string), and the benchmark files as package data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ttrl_trl.data import BENCHMARKS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    """One wheel built from a copy (so the build leaves no build/ or egg-info/ in the checkout), and pip's stderr."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "ttrl_trl", source / "ttrl_trl", ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheel"),
         str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "wheel").glob("ttrl_trl-*.whl")
    return wheel, proc.stderr


def test_building_the_package_prints_no_licence_warning(built) -> None:
    wheel, stderr = built
    assert "license" not in stderr.lower() and "Warning" not in stderr, stderr[-3000:]
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata


def test_a_built_wheel_ships_the_benchmark_files(built) -> None:
    """A non-editable install reads the names offline too: the files are package data."""
    names = set(zipfile.ZipFile(built[0]).namelist())
    for name in [*(f"{n}.json" for n in BENCHMARKS if n != "aime25"), "LICENSE", "NOTICE"]:
        assert f"ttrl_trl/benchmark_data/{name}" in names
    assert "ttrl_trl/benchmark_data/aime25.json" not in names  # no licence: not shipped
