"""Install pip into a venv created with --without-pip (Debian python3 without ensurepip).

Downloads the newest pip wheel from the Python Package Index and runs pip from the wheel
itself to install it. Uses only the standard library.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

INDEX = "https://pypi.org/pypi/pip/json"


def main() -> int:
    with urllib.request.urlopen(INDEX, timeout=60) as response:
        meta = json.load(response)
    wheel = next(
        f
        for f in meta["urls"]
        if f["packagetype"] == "bdist_wheel" and f["filename"].endswith(".whl")
    )
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / wheel["filename"]
        with urllib.request.urlopen(wheel["url"], timeout=120) as response:  # noqa: S310
            target.write_bytes(response.read())
        pip_in_wheel = str(target / "pip")
        return subprocess.call([sys.executable, pip_in_wheel, "install", "--quiet", str(target)])  # noqa: S603


if __name__ == "__main__":
    raise SystemExit(main())
