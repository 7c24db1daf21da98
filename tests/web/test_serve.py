"""`factordose serve` for real: the command starts the service on a port, the
README's API example answers as the CLI does, and Ctrl+C stops it."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dosing.cli import main
from tests.paths import EXAMPLES, ROOT

README = (ROOT / "README.md").read_text()


def test_serve_answers_the_readme_example(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = f"sqlite:///{tmp_path / 'shelf.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "dosing", "serve", "--port", str(port), "--db", database],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(
            f"factordose: serving on http://127.0.0.1:{port}"
        )
        # the README's curl line: the file it posts and where
        line = next(x for x in README.splitlines() if x.startswith("curl ") and "/api/plan" in x)
        posted = re.search(r"--data @(\S+)", line).group(1)  # type: ignore[union-attr]
        path = re.search(r"http://127\.0\.0\.1:8000(/\S+)", line).group(1)  # type: ignore[union-attr]
        response = None
        for _ in range(600):  # the socket opens just after the line above
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}{path}",
                    content=(ROOT / posted).read_bytes(),
                    headers={"content-type": "application/json"},
                    timeout=30,
                )
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert response is not None, "the service never opened its port"
        out = io.StringIO()
        main(["plan", str(EXAMPLES / "order.json"), "--json"], out=out, err=io.StringIO())
        assert response.status_code == 200 and response.json() == json.loads(out.getvalue())
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert process.returncode in (0, 130)
