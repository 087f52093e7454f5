"""--config FILE: every option has a key, the command line wins, errors name the key."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from chatsvc.service import tap
from chatsvc.service.config import config_arguments, config_keys

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "etc" / "chat.toml"


def write(directory: Path, text: str, name: str = "chat.toml") -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def parse(argv: list[str], options_class: type = tap.Options) -> tap.Options:
    options = options_class()
    options.parseOptions(argv)
    return options


def failure(argv: list[str], options_class: type = tap.Options) -> str:
    with pytest.raises(tap.StartupFailure) as caught:
        parse(argv, options_class)
    assert caught.value.code != 0
    message = str(caught.value.code)
    assert "\n" not in message
    return message


def raw(options: tap.Options) -> dict[str, object]:
    """The option values as parsed, before postOptions adds derived objects."""
    return {key: options[key] for key in options.defaults if key != "config"}


class FutureOptions(tap.Options):
    """Options another helper might add later, with no config code of their own."""

    optParameters = [["flood-rate", None, "5", "Lines per second."]]
    optFlags = [["paranoid", None, "Refuse everything."]]

    def opt_oper(self, name: str) -> None:
        """Make NAME an operator (repeatable)."""
        self.setdefault("opers", []).append(name)

    def opt_quiet(self) -> None:
        """A flag written as a method."""
        self["quiet-method"] = True


# -- keys come from the options themselves --------------------------------------------


def test_every_long_option_is_a_key():
    options = tap.Options()
    keys = config_keys(options)
    long_names = {spelling.rstrip("=") for spelling in options.longOpt}
    assert set(keys) == long_names - {"help", "version", "config"}
    assert {"port", "tls-port", "tls-cert", "motd", "max-line"} <= set(keys)


def test_options_added_later_get_keys_with_no_extra_code(tmp_path):
    path = write(tmp_path, 'flood-rate = 2.5\nparanoid = true\noper = ["alice", "bob"]\n'
                           "quiet = true\n")
    options = parse(["--config", path], FutureOptions)
    assert options["flood-rate"] == "2.5"
    assert options["paranoid"] == 1
    assert options["opers"] == ["alice", "bob"]
    assert options["quiet-method"] is True


def test_a_repeatable_option_takes_a_single_value_too(tmp_path):
    path = write(tmp_path, 'oper = "alice"\n')
    assert parse(["--config", path], FutureOptions)["opers"] == ["alice"]


def test_command_line_overrides_the_file(tmp_path):
    path = write(tmp_path, 'name = "from-file"\nmax-line = 100\nroom = "#file"\n'
                           'oper = ["alice", "bob"]\n')
    options = parse(["--name=cli", "--config", path, "--oper", "carol"], FutureOptions)
    assert options["name"] == "cli"
    assert options["settings"].server_name == "cli"
    assert options["settings"].max_line == 100
    assert options["settings"].room == "#file"
    assert options["opers"] == ["carol"]  # the whole list is replaced


def test_short_options_override_too(tmp_path):
    path = write(tmp_path, 'port = "tcp:1:interface=127.0.0.1"\n')
    assert parse(["-p", "2", "--config", path])["port"] == "2"


@pytest.mark.parametrize("key", sorted(config_keys(tap.Options())))
def test_file_and_command_line_agree_for_every_option(tmp_path, key):
    """For each option and a few values: same result, or the same error."""
    options = tap.Options()
    samples = ["1", "tcp:0:interface=127.0.0.1", "no-such-file.pem"]
    default = options.defaults.get(key)
    if isinstance(default, str):
        samples.insert(0, default)
    for value in samples:
        toml_value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        path = write(tmp_path, f"{key} = {toml_value}\n")
        outcomes = []
        for argv in ([f"--{key}={value}"], ["--config", path]):
            try:
                outcomes.append(raw(parse(argv)))
            except tap.StartupFailure as error:
                outcomes.append(str(error.code).replace(f" (set in {path})", ""))
        assert outcomes[0] == outcomes[1], (key, value)


def test_numbers_are_accepted_for_parameters(tmp_path):
    path = write(tmp_path, "max-line = 100\nmax-clients = 0\n")
    settings = parse(["--config", path])["settings"]
    assert (settings.max_line, settings.max_clients) == (100, 0)


# -- errors: one line naming the key and the file, non-zero exit ---------------------


def test_unknown_key(tmp_path):
    path = write(tmp_path, "max_line = 100\n")
    assert failure(["--config", path]) == (
        f"twistd chat: {path}: unknown key 'max_line' (did you mean 'max-line'?)"
    )


def test_unknown_table(tmp_path):
    path = write(tmp_path, "[irc]\nport = 6667\n")
    assert failure(["--config", path]) == f"twistd chat: {path}: unknown key 'irc'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max-line = true", "max-line must be a string or a number, not a boolean"),
        ("port = [1, 2]", "port must be a string or a number, not a list"),
        ("motd = { path = 'x' }", "motd must be a string or a number, not a table"),
        ("name = 1979-05-27", "name must be a string or a number, not a date or time"),
    ],
)
def test_wrong_types(tmp_path, text, message):
    path = write(tmp_path, text + "\n")
    assert failure(["--config", path]) == f"twistd chat: {path}: {message}"


def test_wrong_types_for_flags_and_repeatables(tmp_path):
    path = write(tmp_path, 'paranoid = "yes"\n')
    assert failure(["--config", path], FutureOptions).endswith(
        "paranoid must be true or false, not a string")
    path = write(tmp_path, "oper = [true]\n")
    assert failure(["--config", path], FutureOptions).endswith(
        "oper must be a string, a number or a list of them, not a boolean")


def test_bad_value_from_the_file_says_where_it_was_set(tmp_path):
    path = write(tmp_path, 'max-line = "lots"\n')
    message = failure(["--config", path])
    assert "--max-line 'lots': not a whole number" in message
    assert f"(set in {path})" in message


def test_bad_value_on_the_command_line_does_not_blame_the_file(tmp_path):
    path = write(tmp_path, 'name = "x"\n')
    assert "set in" not in failure(["--config", path, "--max-line", "lots"])


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.toml")
    assert failure(["--config", path]) == (
        f"twistd chat: --config {path}: No such file or directory")


def test_not_toml(tmp_path):
    path = write(tmp_path, "port = \n")
    assert re.fullmatch(rf"twistd chat: {re.escape(path)}: not valid TOML: .*line 1.*",
                        failure(["--config", path]))


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    assert "not valid TOML" in failure(["--config", str(path)])


def test_config_arguments_is_the_translation(tmp_path):
    options = FutureOptions()
    table = {"flood-rate": 3, "paranoid": False, "oper": ["a", "b"], "port": "tcp:1"}
    assert config_arguments(options, table, "f.toml") == [
        "--flood-rate=3", "--oper=a", "--oper=b", "--port=tcp:1"]
    assert config_arguments(options, table, "f.toml", frozenset({"oper"})) == [
        "--flood-rate=3", "--port=tcp:1"]


@pytest.mark.integration
def test_twistd_reports_a_bad_file_in_one_line(tmp_path):
    path = write(tmp_path, "max-lines = 10\n")
    twistd = Path(sys.executable).with_name("twistd")
    done = subprocess.run(
        [str(twistd), "-n", "--pidfile=", "chat", "--config", path],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert done.returncode != 0
    assert done.stderr.strip() == (
        f"twistd chat: {path}: unknown key 'max-lines' (did you mean 'max-line'?)")


# -- the example file -----------------------------------------------------------------


def uncommented_example() -> str:
    """etc/chat.toml with every commented-out setting switched on."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    return "\n".join(re.sub(r"^#\s?(?=[a-z][a-z0-9-]* = )", "", line) for line in lines)


def test_example_covers_every_option():
    text = uncommented_example()
    table = tomllib.loads(text)
    missing = set(config_keys(tap.Options())) - set(table)
    assert not missing, f"add these options to etc/chat.toml: {sorted(missing)}"


def test_example_has_the_right_types(tmp_path):
    table = tomllib.loads(uncommented_example())
    arguments = config_arguments(tap.Options(), table, str(EXAMPLE))
    assert len(arguments) >= len(table) - sum(1 for v in table.values() if v is False)


def test_example_as_shipped_starts_a_valid_configuration(tmp_path):
    """The uncommented lines alone are a working configuration."""
    options = parse(["--config", str(EXAMPLE)])
    assert options["listeners"]


def test_every_example_in_the_file_works_together(tmp_path, certs):
    """Uncomment every example: it parses, and no two listeners share a port
    (they did: tls-port and irc-tls-port were both 6697)."""
    motd = tmp_path / "motd.txt"
    motd.write_text("hello\n")
    text = (uncommented_example()
            .replace("/etc/chatsvc/tls/fullchain.pem", str(certs.cert))
            .replace("/etc/chatsvc/tls/privkey.pem", str(certs.key))
            .replace("/etc/chatsvc/motd.txt", str(motd)))
    options = parse(["--config", write(tmp_path, text)])
    listeners = options["listeners"] + options["irc_listeners"]
    assert [option for option, _ in listeners] == [
        "--port", "--tls-port", "--irc-port", "--irc-tls-port"]
    ports = [tap.endpoint_string(options[option.lstrip("-")]).split(":")[1]
             for option, _ in listeners]
    assert len(set(ports)) == len(ports), ports


def test_the_example_listens_on_loopback_only_as_shipped():
    """The one setting the example switches on keeps clear text off the network."""
    [(option, endpoint)] = parse(["--config", str(EXAMPLE)])["listeners"]
    assert option == "--port" and endpoint._interface == "127.0.0.1"
