"""Nothing but loopback is contacted: real `qa` and UI processes traced with strace, every socket call checked.

strace sees what the process asks of the kernel, native libraries included (onnxruntime's telemetry resolved its
collector's host from C++, out of reach of any Python-level socket patch). A DNS lookup shows up as a connect or
sendto to the resolver's address, so it is caught like any other connection.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SEEDS, UNREACHABLE_OLLAMA, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (.ci/run installs it)"),
]

ROOT = Path(__file__).resolve().parents[1]
QA = str(Path(sys.executable).with_name("qa"))
_TRACE = ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg"]
_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([\d.]+)"\)')
_INET6 = re.compile(r'sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*?inet_pton\(AF_INET6, "([0-9a-fA-F:.]+)"')


def outside_contacts(log: Path) -> list[str]:
    """Every traced socket call to an address that is not loopback, as its strace line."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        for _, address in _INET.findall(line):
            if not address.startswith("127."):
                found.append(line.strip())
        for _, address in _INET6.findall(line):
            if address not in ("::1",) and not address.startswith("::ffff:127."):
                found.append(line.strip())
    return found


def traced(log: Path, *command: str) -> list[str]:
    return [*_TRACE, "-o", str(log), *command]


def environment(index: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "ORT_", "OLLAMA_"))}
    env.update(QA_INDEX_DIR=str(index), OLLAMA_HOST=UNREACHABLE_OLLAMA)
    return env


def test_the_outside_contact_check_sees_a_dns_lookup(tmp_path: Path) -> None:
    """The check itself: a name lookup through the system resolver is reported."""
    log = tmp_path / "trace.log"
    probe = "import socket\ntry:\n    socket.getaddrinfo('example.invalid', 80)\nexcept OSError:\n    pass\n"
    subprocess.run(traced(log, sys.executable, "-c", probe), check=True, timeout=120)
    resolvers = [line for line in Path("/etc/resolv.conf").read_text().splitlines() if line.startswith("nameserver")]
    if not any(not line.split()[1].startswith("127.") for line in resolvers if len(line.split()) > 1):
        pytest.skip("the resolver here is on loopback: a lookup would not leave the machine")
    assert outside_contacts(log)


def test_ingest_and_ask_from_the_command_line_contact_only_loopback(tmp_path: Path) -> None:
    env = environment(tmp_path / "index")
    log = tmp_path / "trace.log"
    subprocess.run(traced(log, QA, "ingest", str(SEEDS)), env=env, check=True, timeout=600, capture_output=True)
    contacts = outside_contacts(log)
    ask = traced(tmp_path / "ask.log", QA, "ask", "--json", "How many F-16s is the Netherlands sending?")
    done = subprocess.run(ask, env=env, check=True, timeout=600, capture_output=True, text=True)
    assert "eighteen" in done.stdout.lower()
    assert contacts + outside_contacts(tmp_path / "ask.log") == []


def test_the_web_ui_contacts_only_loopback_through_uploads_and_answers(tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    env = environment(tmp_path / "index")
    port = free_port()
    log = tmp_path / "trace.log"
    command = traced(log, sys.executable, str(ROOT / "app.py"), "--port", str(port))
    # A session of its own: stopping strace alone detaches it and leaves the traced app.py serving.
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        client = None
        deadline = time.monotonic() + 300
        while client is None:
            assert server.poll() is None, "app.py exited before serving"
            try:
                client = Client(url, verbose=False)
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail(f"the UI did not come up on {url}")
                time.sleep(1)
        article = tmp_path / "tram.txt"
        article.write_text(
            "Title: Lviv opens a tram line\nDate: 2024-02-10\n\n"
            + " ".join(f"The new tram line in Lviv has {n} stops on route {n}." for n in range(1, 60)),
            encoding="utf-8",
        )
        for copy in range(3):  # onnxruntime's telemetry spoke up after a few hundred inferences
            article.write_text(article.read_text() + f" Route {copy} opened.", encoding="utf-8")
            client.predict([handle_file(str(article))], "", api_name="/upload")
        messages, *_ = client.predict(
            "How many stops does the tram line in Lviv have?",
            5,
            "",
            "",
            "auto",
            "llama3.2:3b",
            "auto",
            api_name="/ask",
        )
        assert messages
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # strace and the app it traces
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert outside_contacts(log) == []
