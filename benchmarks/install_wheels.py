"""Install, offline, each wheel of a folder whose distribution this Python lacks (``make gpu-check``).

The GPU machine has torch (its CUDA build), transformers, peft and accelerate, but may lack trl, math-verify
or datasets, and it has no network. ``make gpu-wheels`` downloads those wheels into ``.whl/`` where there is
network; this script installs only the distributions that are missing, with ``--no-index --no-deps``, so
nothing already installed (the machine's CUDA torch above all) is replaced. Standard library only: it runs
before anything else is importable.

    python benchmarks/install_wheels.py .whl
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REQUIRED_MODULES = ("torch", "transformers", "accelerate", "peft", "trl", "datasets", "math_verify")


def is_installed(distribution: str) -> bool:
    try:
        version(distribution)
    except PackageNotFoundError:
        return False
    return True


def missing_wheels(folder: Path) -> list[Path]:
    """Wheels (``<name>-<version>-...whl``) whose distribution is not installed."""
    return [wheel for wheel in sorted(folder.glob("*.whl")) if not is_installed(wheel.name.split("-")[0])]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else ".whl")
    wheels = missing_wheels(folder) if folder.is_dir() else []
    if wheels:
        print(f"installing from {folder}/ (offline, no deps): {', '.join(w.name for w in wheels)}", flush=True)
        cmd = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", *map(str, wheels)]
        subprocess.run(cmd, check=True)
    absent = [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
    if absent:
        print(
            f"missing Python modules: {', '.join(absent)}. On a machine with network run `make gpu-wheels "
            f"GPU_PYTHON_VERSION=<this machine's python, e.g. {sys.version_info.major}.{sys.version_info.minor}>` "
            f"and bring the {folder}/ folder here (it is gitignored: carry it explicitly).",
            file=sys.stderr,
        )
        return 1
    print("versions: " + ", ".join(f"{d} {version(d)}" for d in ("torch", "transformers", "trl", "peft", "datasets")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
