#!/usr/bin/env python3
"""The project's entry points, each doing its own set-up on a fresh machine.

    python3 dev.py hello   # the hello world, on an embedded node if none answers on 127.0.0.1:2113
    python3 dev.py test    # the whole test suite
    python3 dev.py chat    # the chat demo (see README); arguments go to demo/chat.py

Each creates `.venv/` beside this file on first use and installs the package into it
(editable, with the test extras for `test`); later runs reuse it unless setup.py changed.
Only the standard library is used here, so this runs before anything is installed.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_environment(extras: str) -> None:
    wanted = hashlib.sha256((ROOT / "setup.py").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    target = f".[{extras}]" if extras else "."
    print(f"installing {target} into .venv ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", target], cwd=ROOT, check=True)
    stamp.write_text(wanted)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command == "hello":
        ensure_environment("")
        return subprocess.call([str(PYTHON), str(ROOT / "demo" / "hello_world.py"), *argv[1:]], cwd=ROOT)
    if command == "chat":
        ensure_environment("projections")
        return subprocess.call([str(PYTHON), str(ROOT / "demo" / "chat.py"), *argv[1:]], cwd=ROOT)
    if command == "test":
        ensure_environment("test")
        return subprocess.call([str(PYTHON), "-m", "pytest", *argv[1:]], cwd=ROOT)
    print(__doc__)
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
