"""The sotto-engine command line: config errors exit 2 naming the key; keygen; download; run."""

from __future__ import annotations

import asyncio
import re
import signal
import stat
import sys
from pathlib import Path

import pytest
from wyoming.tts import Synthesize

from sotto_voice.engine.__main__ import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main
from sotto_voice.engine.tts import espeak_executable
from sotto_voice.link import LinkKey, PeerIdentity, connect, load_key_file
from tests.library.tts.voice_server import serve_repository

from .conftest import reply

BASE = "state_dir: {state}\nlink: {{host: 127.0.0.1, port: 0}}\nstt: {{enabled: false}}\n"


def write_config(tmp_path: Path, extra: str = "") -> Path:
    """A config file keeping all state under tmp_path."""
    path = tmp_path / "engine.yaml"
    path.write_text(BASE.format(state=tmp_path / "state") + extra, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("link: {port: ten}\n", "link.port"),
        ("link: {port: 70000}\n", "link.port"),
        ("tts: {default_voice: lessac}\n", "tts.default_voice"),
        ("tts: {voice: en_US-lessac-medium}\n", "tts.voice"),
        ("tts: {voices_url: 'ftp://example.org'}\n", "tts.voices_url"),
        ("discovery: {enabled: 'yes'}\n", "discovery.enabled"),
        ("log_level: loud\n", "log_level"),
        ("stt: {language: de}\n", "stt.language"),
        ("tts: {espeak_voice: '-w /tmp/x'}\n", "tts.espeak_voice"),
        ("tts: {default_voice: 'espeak-ng:--x'}\n", "tts.default_voice"),
        ("device_id: 'has spaces'\n", "device_id"),
        ("link: [1, 2]\n", "link"),
    ],
)
def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, named: str
) -> None:
    path = tmp_path / "engine.yaml"
    path.write_text(text, encoding="utf-8")

    status = main(["-c", str(path), "check-config"])

    assert status == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"{named}:" in err
    assert str(path) in err


def test_unreadable_yaml_and_missing_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("link: {port: 1\n", encoding="utf-8")

    assert main(["-c", str(broken), "run"]) == EXIT_CONFIG
    assert "not valid YAML" in capsys.readouterr().err
    assert main(["-c", str(tmp_path / "absent.yaml"), "run"]) == EXIT_CONFIG
    assert "no such configuration file" in capsys.readouterr().err


def test_missing_key_file_names_the_key_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)

    assert main(["-c", str(config), "run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "link.key_file" in err
    assert "sotto-engine keygen" in err


def test_keygen_writes_a_private_key_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    key_file = tmp_path / "state" / "link.key"

    assert main(["-c", str(config), "keygen"]) == EXIT_OK
    printed = capsys.readouterr().out.strip()
    assert load_key_file(key_file) == LinkKey.from_base64(printed)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    assert main(["-c", str(config), "keygen"]) == EXIT_FAILED
    assert "--force" in capsys.readouterr().err
    assert load_key_file(key_file) == LinkKey.from_base64(printed)

    assert main(["-c", str(config), "check-config"]) == EXIT_OK
    assert "valid" in capsys.readouterr().out


async def test_download_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_body = b'{"audio": {"sample_rate": 22050}, "phoneme_id_map": {"_": [0]}}'
    async with serve_repository() as repository:
        repository.add_voice("en_US-tiny-x_low", b"model" * 100, config_body)
        config = write_config(tmp_path, f"tts: {{voices_url: '{repository.url}'}}\n")
        ok = await asyncio.to_thread(main, ["-c", str(config), "download", "en_US-tiny-x_low"])
        missing = await asyncio.to_thread(main, ["-c", str(config), "download", "en_GB-alan-low"])

    assert ok == EXIT_OK
    assert (tmp_path / "state" / "voices" / "en_US-tiny-x_low.onnx").exists()
    assert missing == EXIT_FAILED
    assert "en_GB-alan-low" in capsys.readouterr().err


@pytest.mark.skipif(espeak_executable() is None, reason="espeak-ng not installed")
async def test_run_serves_until_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path, "device_id: engine-cli\n")
    assert await asyncio.to_thread(main, ["-c", str(config), "keygen"]) == EXIT_OK
    key = load_key_file(tmp_path / "state" / "link.key")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sotto_voice.engine",
        "-c",
        str(config),
        "run",
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(30):
            port = None
            while port is None:
                line = (await process.stderr.readline()).decode()
                assert line, "the engine exited before listening"
                if found := re.search(r"listening on 127\.0\.0\.1:(\d+)", line):
                    port = int(found[1])
            me = PeerIdentity(device_id="ha-test", name="HA", role="controller")
            async with connect(
                "127.0.0.1", port, key=key, identity=me, expected_device_id="engine-cli"
            ) as link:
                events = await reply(link, Synthesize(text="Goodbye.").event())
            process.send_signal(signal.SIGTERM)
            status = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert events[0].type == "audio-start"
    assert events[-1].type == "audio-stop"
    assert status == 0


async def test_port_in_use_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    try:
        busy = server.sockets[0].getsockname()[1]
        config = write_config(tmp_path)
        config.write_text(
            config.read_text(encoding="utf-8").replace("port: 0", f"port: {busy}"),
            encoding="utf-8",
        )
        assert await asyncio.to_thread(main, ["-c", str(config), "keygen"]) == EXIT_OK
        status = await asyncio.to_thread(main, ["-c", str(config), "run"])
    finally:
        server.close()
        await server.wait_closed()

    assert status == EXIT_FAILED
    assert f"cannot listen on 127.0.0.1:{busy}" in capsys.readouterr().err
