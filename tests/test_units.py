"""The systemd units in etc/: systemd-analyze verify, and what they promise."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ETC = Path(__file__).resolve().parent.parent / "etc"
UNIT_TWISTD = "/opt/chatsvc/venv/bin/twistd"
UNIT_CONFIG = "/etc/chatsvc/chat.toml"
UNITS = ("chatsvc.service", "chatsvc.socket", "chatsvc-tls.socket")
DROP_IN = Path("chatsvc.service.d") / "socket-activation.conf"


def read_unit(path: Path) -> configparser.ConfigParser:
    """A unit file as sections of keys, each key's values as a list, in order."""
    parser = configparser.ConfigParser(
        strict=False, interpolation=None, empty_lines_in_values=False, dict_type=_MultiDict,
    )
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string(path.read_text().replace("\\\n", " "))
    return parser


class _MultiDict(dict):
    """systemd allows a key many times; keep every value, newline-joined."""

    def __setitem__(self, key, value):
        if isinstance(value, list) and key in self:
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def values(unit: configparser.ConfigParser, section: str, key: str) -> list[str]:
    return unit.get(section, key, fallback="").split("\n") if unit.has_option(
        section, key) else []


def exec_start(path: Path) -> list[str]:
    """The command of the last non-empty ExecStart= in C{path}."""
    commands = [v for v in values(read_unit(path), "Service", "ExecStart") if v.strip()]
    assert commands, f"no ExecStart in {path}"
    return shlex.split(commands[-1])


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The units as an administrator installs them, with this venv's twistd."""
    directory = tmp_path_factory.mktemp("units")
    for name in (*UNITS, str(DROP_IN)):
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        twistd = str(Path(sys.executable).with_name("twistd"))
        target.write_text((ETC / name).read_text().replace(UNIT_TWISTD, twistd))
    return directory


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed (.ci/run installs Debian's systemd)")
def test_systemd_analyze_verify_passes(installed):
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *UNITS], cwd=installed,
        capture_output=True, text=True, timeout=120,
    )
    ours = [line for line in (done.stdout + done.stderr).splitlines()
            if "chatsvc" in line]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed (.ci/run installs Debian's systemd)")
def test_verify_would_catch_a_broken_unit(installed, tmp_path):
    broken = tmp_path / "chatsvc.service"
    broken.write_text((installed / "chatsvc.service").read_text().replace(
        "ExecReload=/bin/kill", "ExecReload=/bin/no-such-kill"))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(broken)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "no-such-kill" in done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed (.ci/run installs Debian's systemd)")
def test_hardening_keeps_the_exposure_score_low(installed):
    """systemd's own rating of the sandbox: 1.3 of 10 when written; fail above 2.5."""
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=25", "--no-pager",
         "chatsvc.service"], cwd=installed, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr


def test_service_is_notify_reloadable_and_hardened():
    service = read_unit(ETC / "chatsvc.service")
    get = lambda key: values(service, "Service", key)  # noqa: E731
    assert get("Type") == ["notify"]
    assert get("ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert get("Restart") == ["on-failure"]
    assert exec_start(ETC / "chatsvc.service") == [
        UNIT_TWISTD, "--nodaemon", "--pidfile=", "chat", "--config", UNIT_CONFIG]
    assert get("User") == ["chatsvc"] and get("StateDirectory") == ["chatsvc"]
    assert int(get("LimitNOFILE")[0]) >= 10_000 + 100  # above the max-clients default
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }.items():
        assert get(key) == [value], key
    assert "@system-service" in get("SystemCallFilter")


def test_socket_units_match_the_names_the_drop_in_adopts():
    command = exec_start(ETC / DROP_IN)
    endpoints = {command[i]: command[i + 1] for i, word in enumerate(command)
                 if word in ("--port", "--tls-port")}
    drop_in = read_unit(ETC / DROP_IN)
    assert values(drop_in, "Service", "Sockets") == ["chatsvc.socket chatsvc-tls.socket"]
    for unit_name, option in (("chatsvc.socket", "--port"), ("chatsvc-tls.socket", "--tls-port")):
        socket_unit = read_unit(ETC / unit_name)
        name = values(socket_unit, "Socket", "FileDescriptorName")[0]
        assert values(socket_unit, "Socket", "Service") == ["chatsvc.service"]
        assert endpoints[option] == f"systemd:domain=INET6:name={name}"
        listen = values(socket_unit, "Socket", "ListenStream")[0]
        assert listen.startswith("[::]:") and int(listen.rsplit(":", 1)[1]) < 1024
