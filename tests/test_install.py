"""A plain (non-editable) `pip install .` into a brand-new virtualenv gives a
working `twistd chat`: the twisted/plugins packaging trap, tested for real."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import stop_process

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__",
    ".pytest_cache", ".hypothesis", ".ruff_cache", "dropin.cache",
)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("install")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         str(source)],
        check=True, timeout=300,
    )
    return venv


def test_twistd_chat_help_from_fresh_venv(fresh_venv, tmp_path):
    result = subprocess.run(
        [str(fresh_venv / "bin" / "twistd"), "chat", "--help"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for option in ("--port", "--tls-port", "--tls-cert", "--max-line", "--max-clients"):
        assert option in result.stdout
    # The plugin comes from the installed package, not from a checkout on sys.path.
    site = fresh_venv / "lib"
    assert len(list(site.glob("python*/site-packages/twisted/plugins/chatsvc_plugin.py"))) == 1


def test_the_web_page_is_shipped_in_the_package(fresh_venv):
    # Package data: without [tool.setuptools.package-data] a plain install
    # has no page and --web-port fails at start-up.
    site = fresh_venv / "lib"
    for name in ("index.html", "chat.js", "compose.js", "text.js", "chat.css", "icon.svg"):
        found = list(site.glob(f"python*/site-packages/chatsvc/protocols/web/static/{name}"))
        assert len(found) == 1, name
        assert found[0].read_bytes() == (ROOT / "chatsvc/protocols/web/static" / name).read_bytes()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_installed_server_chats(fresh_venv, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [str(fresh_venv / "bin" / "twistd"), "-n", "--pidfile=",
         f"--logfile={tmp_path / 'twistd.log'}", "chat",
         "--port", f"tcp:{port}:interface=127.0.0.1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert server.poll() is None, "server exited"
                assert time.monotonic() < deadline, "server did not start listening"
                time.sleep(0.1)
        with connection, connection.makefile("rwb") as stream:
            assert stream.readline().startswith(b"* welcome to chatsvc!")
            # The default --data-dir keeps history: the server says what it stores.
            assert stream.readline().startswith(b"* this server keeps room messages")
            stream.write(b"#newcomer\n")
            stream.flush()
            assert stream.readline() == b"* you are newcomer\r\n"
        # The start-up log tells a newcomer where to connect.
        assert f"] line protocol on 127.0.0.1:{port}\n" in (tmp_path / "twistd.log").read_text()
    finally:
        stop_process(server, timeout=20)


def test_metrics_without_their_extra_are_one_clear_line(fresh_venv, tmp_path):
    result = subprocess.run(
        [str(fresh_venv / "bin" / "twistd"), "-n", "--pidfile=", "chat",
         "--port", "tcp:0:interface=127.0.0.1", "--metrics-port", "tcp:0:interface=127.0.0.1"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "twistd chat: --metrics-port needs the prometheus-client package: "
        "pip install 'chatsvc[metrics]' "
        "(see: twistd chat --help)"]


def test_every_module_of_the_checkout_imports_from_the_installed_wheel(fresh_venv, tmp_path):
    """Package discovery picks up every subpackage: nothing in chatsvc/ is left behind.

    chatsvc.metrics needs its extra (prometheus-client): installed here,
    after the tests of the plain install, so that every module can import.
    """
    subprocess.run(
        [str(fresh_venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         f"{fresh_venv.parent / 'src'}[metrics]"],
        check=True, timeout=300,
    )
    source = ROOT / "chatsvc"
    modules = sorted(
        ".".join(("chatsvc", *path.relative_to(source).with_suffix("").parts))
        .removesuffix(".__init__")
        for path in source.rglob("*.py")
    )
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    module = importlib.import_module(name)\n"
        "    assert 'site-packages' in module.__file__, (name, module.__file__)\n"
        "print(len(sys.argv) - 1)\n"
    )
    result = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c", script, *modules],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(modules) > 30
