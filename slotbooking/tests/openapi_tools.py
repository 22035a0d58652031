"""Running the OpenAPI tools of the dev requirements (schemathesis, openapi-python-client)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run_tool(name: str, *args: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """A console script of the virtualenv, with the virtualenv first on PATH (for ruff)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run(  # noqa: S603  # our own virtualenv's tools, fixed arguments
        [str(BIN / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
