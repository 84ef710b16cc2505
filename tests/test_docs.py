"""The guides in docs/ work as written: their commands run, their files validate.

Every fenced ``sh`` block of a guide is run, in order, by bash in a stand-in for the
machine (`scripts/check-docs`, on the host's Python, the one Raspberry Pi OS has): `sudo`
is dropped, /opt/sotto, /etc/sotto, /etc/systemd/system, /var/lib/sotto-* and /tmp/ move
under a throwaway root, the package installs from this checkout instead of PyPI, and the
repository's files are read from it instead of GitHub. A block that needs what no test
machine has starts with a marker and is listed, not run:

    # needs: hardware   a Pi, its sound card or HAT, an ESP32 on a cable
    # needs: system     adds a user, packages or a service to the machine it runs on
    # needs: network    downloads from outside the Python package index

The other checks (markers, the UI's words, configuration examples, quoted log lines) are
quick and run everywhere.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDES = ("raspberry-pi.md", "engine.md", "esphome.md")
MARKERS = {"hardware", "system", "network"}
# Commands that only make sense on the real machine: a block using one must be marked.
TARGET_ONLY = re.compile(
    r"(?:^|[;&|(]\s*|\bsudo\s+)((?:systemctl|journalctl|useradd|userdel|apt-get|raspi-config"
    r"|arecord|aplay|alsamixer|alsactl|reboot)\b|\S*esphome run\b)",
    re.MULTILINE,
)
REPO_URL = "https://github.com/sotto-voice/sotto"
RAW_URL = "https://raw.githubusercontent.com/sotto-voice/sotto/main/"
# Where scripts/check-docs keeps its stand-in machine (the repository ignores /tmp/).
WORK = ROOT / "tmp" / "check-docs"
RUN = os.environ.get("SOTTO_CHECK_DOCS") == "run"
needs_run = pytest.mark.skipif(
    not RUN, reason="run by scripts/check-docs on the host's Python (Raspberry Pi OS's)"
)


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block of a guide."""

    doc: str
    line: int
    lang: str
    text: str

    @property
    def needs(self) -> str | None:
        """The marker's word (`# needs: hardware`), or None for a block that runs here."""
        first = self.text.lstrip().splitlines()[0] if self.text.strip() else ""
        match = re.fullmatch(r"#\s*needs:\s*(\S+)", first.strip())
        return match.group(1) if match else None

    def __str__(self) -> str:
        return f"docs/{self.doc}:{self.line}"


def blocks(doc: str, lang: str | None = None) -> list[Block]:
    """The fenced blocks of docs/<doc> (indented ones included), optionally of one language."""
    found: list[Block] = []
    lines = (DOCS / doc).read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = re.fullmatch(r"(\s*)```(\w*).*", lines[index])
        index += 1
        if not opening:
            continue
        indent, language = opening.group(1), opening.group(2)
        start, body = index, []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index].removeprefix(indent))
            index += 1
        index += 1
        if lang is None or language == lang:
            found.append(Block(doc, start, language, "\n".join(body) + "\n"))
    return found


# --- quick checks ----------------------------------------------------------------------------


def test_every_shell_block_runs_here_or_says_what_it_needs() -> None:
    """A block with a target-only command is marked; markers are ones the check knows."""
    problems = []
    for doc in GUIDES:
        for block in blocks(doc, "sh"):
            if block.needs is None and TARGET_ONLY.search(block.text):
                command = TARGET_ONLY.search(block.text)
                problems.append(f"{block}: unmarked, but runs {command and command.group(1)}")
            if block.needs is not None and block.needs not in MARKERS:
                problems.append(f"{block}: unknown marker {block.needs!r}")
    assert not problems, problems
    runnable = [b for doc in GUIDES for b in blocks(doc, "sh") if b.needs is None]
    assert len(runnable) >= 15, "the guides lost their runnable commands"


def _menu() -> dict[str, str]:
    strings = json.loads(
        (ROOT / "custom_components/sotto/translations/en.json").read_text(encoding="utf-8")
    )
    menu: dict[str, str] = strings["config"]["step"]["user"]["menu_options"]
    return menu


@pytest.mark.parametrize(
    ("doc", "option"),
    [("raspberry-pi.md", "satellite"), ("engine.md", "engine"), ("esphome.md", "esphome")],
)
def test_guides_name_the_flow_steps_as_the_ui_does(doc: str, option: str) -> None:
    """Each guide quotes its kind's menu entry exactly as Home Assistant shows it."""
    text = " ".join((DOCS / doc).read_text(encoding="utf-8").split())
    assert f"**{_menu()[option]}**" in text


def test_no_page_uses_a_name_the_ui_does_not_show() -> None:
    """Menu entries the UI never showed, and the old URL-less setup, are gone everywhere."""
    pages = [ROOT / "README.md", *DOCS.glob("*.md"), *(ROOT / "satellite/esphome").glob("*")]
    pages += list((ROOT / "satellite/systemd").glob("*.service"))
    stale = ("*An ESPHome satellite*", '"An ESPHome voice satellite"', "*A Sotto satellite*")
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for name in stale:
            assert name not in text, f"{page.relative_to(ROOT)} says {name}"
        assert "install -m 0644 sotto-" not in text, f"{page.relative_to(ROOT)} needs a clone"


def test_the_repository_url_is_the_same_everywhere() -> None:
    """README, docs, units, pyproject and the manifest point at one repository."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'Homepage = "{REPO_URL}"' in pyproject
    manifest = json.loads((ROOT / "custom_components/sotto/manifest.json").read_text())
    assert manifest["documentation"].startswith(REPO_URL)
    pages = [ROOT / "README.md", *DOCS.glob("*.md"), *(ROOT / "satellite").rglob("*.service")]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for url in re.findall(r"https://(?:raw\.)?github(?:usercontent)?\.com/[\w./-]+", text):
            if "sotto" in url.split("/")[3:4] or "sotto-voice" in url:
                assert url.startswith((REPO_URL, RAW_URL)), f"{page.name}: {url}"
        for url in re.findall(re.escape(RAW_URL) + r"([\w./-]+)", text):
            assert (ROOT / url.removesuffix("$file")).exists(), f"{page.name}: {url}"


def test_readme_links_to_each_guide() -> None:
    """The README keeps the overview and sends readers to the guides."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for doc in (*GUIDES, "troubleshooting.md"):
        assert f"(docs/{doc}" in readme, doc


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown page."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_links_between_the_pages_lead_somewhere() -> None:
    """Every relative link of the README and the guides names a file and heading that exist."""
    for page in (ROOT / "README.md", *DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([\w./-]*\.md|)(?:#([\w-]+))?\)", text):
            linked = (page.parent / target).resolve() if target else page
            assert linked.is_file(), f"{page.name} links to {target}"
            if anchor:
                assert anchor in _anchors(linked), f"{page.name} links to {target}#{anchor}"


def test_satellite_configuration_examples_are_valid() -> None:
    """Every YAML block of the Pi guide is accepted by the satellite's own loader."""
    from sotto_voice.satellite.config import validate

    examples = blocks("raspberry-pi.md", "yaml")
    assert len(examples) >= 2
    for block in examples:
        config = validate(yaml.safe_load(block.text), source=str(block))
        assert config.name == "Kitchen satellite", block


def test_engine_configuration_example_is_valid() -> None:
    """Every YAML block of the engine guide is accepted by the engine's own loader."""
    from sotto_voice.engine.config import validate

    examples = blocks("engine.md", "yaml")
    assert examples
    for block in examples:
        assert validate(yaml.safe_load(block.text), source=str(block)).link.port == 10810


# Printf (%s, %.1f, %r), str.format ({name}) and f-string fields: where messages vary.
_FIELD = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdrfgoxi]|\{[^{}]*\}")
_HOLE = "\x00"


def _templates(node: ast.AST) -> Iterator[str]:
    """Every string the code can print, with a hole where a value goes."""
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield _FIELD.sub(_HOLE, child.value)
        elif isinstance(child, ast.JoinedStr):
            yield "".join(
                _FIELD.sub(_HOLE, part.value)
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
                else _HOLE
                for part in child.values
            )


def _messages() -> list[re.Pattern[str]]:
    """The code's messages (and the UI's strings) as patterns, most literal first."""
    found: set[str] = set()
    for folder in (ROOT / "satellite/sotto_voice", ROOT / "custom_components/sotto"):
        for source in folder.rglob("*.py"):
            found.update(_templates(ast.parse(source.read_text(encoding="utf-8"))))

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, str):
            yield _FIELD.sub(_HOLE, value)

    translations = ROOT / "custom_components/sotto/translations/en.json"
    found.update(strings(json.loads(translations.read_text(encoding="utf-8"))))
    # A message must say something of its own, not just be a hole with a colon.
    usable = [t for t in found if len(t.replace(_HOLE, "")) >= 12]
    usable.sort(key=lambda t: -len(t.replace(_HOLE, "")))
    return [
        re.compile("".join(".+" if part == _HOLE else re.escape(part) for part in _split(t)))
        for t in usable
    ]


def _split(template: str) -> list[str]:
    return [part for part in re.split(f"({_HOLE})", template) if part]


# The integration is Python 3.14 code, which older parsers cannot read.
needs_new_parser = pytest.mark.skipif(
    sys.version_info < (3, 12), reason="the integration's source needs Python 3.12+ to parse"
)


@needs_new_parser
def test_troubleshooting_quotes_messages_the_code_writes() -> None:
    """Each log line quoted in troubleshooting.md matches a message in the code."""
    patterns = _messages()
    quoted = [
        line
        for block in blocks("troubleshooting.md", "text")
        for line in block.text.splitlines()
        if line.strip()
    ]
    assert len(quoted) >= 30
    unknown = [
        line
        for line in quoted
        if not any(p.fullmatch(re.sub(r"<[^<>]+>", "X", line)) for p in patterns)
    ]
    assert not unknown, unknown


@needs_new_parser
def test_troubleshooting_check_can_fail() -> None:
    """A line the code never writes is not taken for one of its messages."""
    patterns = _messages()
    line = "the satellite refused to start: out of cheese (<n> wheels)"
    assert not any(p.fullmatch(re.sub(r"<[^<>]+>", "X", line)) for p in patterns)


# --- the guides' commands, run (scripts/check-docs) -----------------------------------------


@dataclass(slots=True)
class Machine:
    """The stand-in machine a guide's commands run on."""

    root: Path
    home: Path
    env: dict[str, str]
    ran: list[str]

    def translate(self, text: str) -> str:
        """The block as it runs here (see the module's docstring)."""
        paths = r"/opt/sotto|/etc/sotto|/etc/systemd/system|/var/lib/sotto-|/tmp/"
        pattern = re.compile(
            rf"(?P<raw>{re.escape(RAW_URL)})"
            r"|(?P<pkg>'sotto-voice\[)"
            r"|(?P<sudo>\bsudo (?:-u \S+ )?)"
            r"|(?P<owner>-o sotto -g sotto )"
            rf"|(?<![\w/.~-])(?P<path>{paths})"
        )

        def swap(match: re.Match[str]) -> str:
            kind = match.lastgroup
            if kind == "raw":
                return f"file://{ROOT}/"
            if kind == "pkg":
                return f"'{ROOT}["
            if kind == "path":
                return f"{self.root}{match.group()}"
            return ""  # sudo, and the owner a test machine has no user for

        return pattern.sub(swap, text)

    def run(self, block: Block) -> str:
        """Run one block with bash; return what it printed (stdout and stderr)."""
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.translate(block.text)],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{block} failed ({done.returncode}):\n{output[-3000:]}"
        self.ran.append(str(block))
        return output

    def run_guide(self, doc: str) -> dict[int, str]:
        """Run every unmarked block of a guide in order; return each output by line."""
        return {b.line: self.run(b) for b in blocks(doc, "sh") if b.needs is None}


@pytest.fixture(scope="module")
def machine() -> Iterator[Machine]:
    """A fresh stand-in machine (ESPHome's virtual environment in ~ is kept, for speed).

    `pip install esphome` still runs and resolves every requirement each time;
    `scripts/check-docs --fresh` starts from nothing.
    """
    root, home = WORK / "root", WORK / "home"
    for folder in (root, home / "sotto-esphome"):
        shutil.rmtree(folder, ignore_errors=True)
    for folder in ("opt", "etc/systemd/system", "tmp"):
        (root / folder).mkdir(parents=True)
    home.mkdir(parents=True, exist_ok=True)
    # The sound card is the hardware: check-config only asks that the programs exist.
    tools = WORK / "tools"
    tools.mkdir(exist_ok=True)
    for name in ("arecord", "aplay"):
        stub = tools / name
        stub.write_text("#!/bin/sh\necho 'no sound card on a test machine' >&2\nexit 1\n")
        stub.chmod(0o755)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VIRTUAL_ENV", "PYTHON", "SOTTO_", "STATE_DIRECTORY"))
    }
    env |= {"HOME": str(home), "PATH": f"{tools}:{os.environ['PATH']}", "LC_ALL": "C.UTF-8"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["ESPHOME_DATA_DIR"] = str(_esphome_downloads(WORK / "esphome-data"))
    found = Machine(root=root, home=home, env=env, ran=[])
    yield found
    # What ran and what only a real machine can run, for scripts/check-docs to print.
    marked = [f"{b} ({b.needs})" for d in GUIDES for b in blocks(d, "sh") if b.needs]
    (WORK / "summary.txt").write_text(
        f"docs: ran {len(found.ran)} shell blocks ({', '.join(found.ran)});\n"
        f"      {len(marked)} marked for a real machine: {', '.join(marked)}\n"
    )


def _esphome_downloads(data_dir: Path) -> Path:
    """ESPHome's download cache, holding the wake word models the board files name.

    `esphome config` fetches each micro_wake_word model's manifest from GitHub, which a
    test machine cannot reach; ESPHome then uses its cached copy. The same models
    (manifest and TensorFlow Lite file) ship in pymicro-wakeword's wheel.
    """
    spec = importlib.util.find_spec("pymicro_wakeword")
    assert spec is not None, "pymicro-wakeword (sotto-voice[satellite]) is not installed"
    models = Path(next(iter(spec.submodule_search_locations or []))) / "models"
    for name in ("okay_nabu", "hey_jarvis"):
        url = f"https://github.com/esphome/micro-wake-word-models/raw/main/models/v2/{name}.json"
        folder = data_dir / "micro_wake_word" / hashlib.sha256(url.encode()).hexdigest()[:8]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(models / f"{name}.json", folder / "manifest.json")
        shutil.copyfile(models / f"{name}.tflite", folder / f"{name}.tflite")
    return data_dir


def _key_in(output: str) -> bytes:
    """The one pairing key printed in output, decoded (it must be 32 bytes)."""
    keys = re.findall(r"^[A-Za-z0-9+/]{43}=$", output, re.MULTILINE)
    assert len(keys) == 1, output
    raw = base64.b64decode(keys[0], validate=True)
    assert len(raw) == 32
    return raw


@needs_run
def test_engine_guide_runs_as_written(machine: Machine) -> None:
    """Install, configure, key, voice test, unit file and removal, as docs/engine.md says."""
    outputs = machine.run_guide("engine.md")
    printed = "\n".join(outputs.values())
    key = _key_in(printed)
    assert f"Configuration: {machine.root}/etc/sotto/engine.yaml: valid" in printed
    assert "  name: Living room engine" in printed
    assert "espeak-ng" in printed  # `voices` lists the fallback voice
    wav = machine.root / "tmp/engine-test.wav"
    assert wav.stat().st_size > 10_000
    assert re.search(r"^Wrote [\d.]+ s spoken by .+engine-test\.wav$", printed, re.MULTILINE)
    _verify_unit(machine, "sotto-engine")
    # The removal step ran last: the engine's state and configuration are gone.
    assert not (machine.root / "var/lib/sotto-engine").exists()
    assert not (machine.root / "etc/sotto/engine.yaml").exists()
    assert key


@needs_run
def test_pi_guide_runs_as_written(machine: Machine) -> None:
    """Install, configuration, key, unit file, update and removal, as docs/raspberry-pi.md."""
    outputs = machine.run_guide("raspberry-pi.md")
    printed = "\n".join(outputs.values())
    assert "configuration ok" in printed
    keys = re.findall(r"^[A-Za-z0-9+/]{43}=$", printed, re.MULTILINE)
    # keygen made a key and keygen --show printed the same one.
    assert len(keys) == 2, printed
    assert keys[0] == keys[1]
    assert len(base64.b64decode(keys[0])) == 32
    _verify_unit(machine, "sotto-satellite")
    assert not (machine.root / "opt/sotto").exists()
    assert not (machine.root / "var/lib/sotto-satellite").exists()


def _verify_unit(machine: Machine, name: str) -> None:
    """The unit the guide downloaded is the repository's, and systemd accepts it."""
    unit = machine.root / f"etc/systemd/system/{name}.service"
    shipped = ROOT / f"satellite/systemd/{name}.service"
    assert unit.read_bytes() == shipped.read_bytes()
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    # The guide's removal step deleted /opt/sotto: point the unit at this test's own
    # copy of the program, so that systemd can check it is there.
    here = WORK / f"{name}.service"
    here.write_text(unit.read_text().replace("/opt/sotto", str(Path(sys.executable).parent.parent)))
    done = subprocess.run(
        [analyze, "verify", str(here)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@needs_run
def test_esphome_guide_runs_as_written(machine: Machine) -> None:
    """ESPHome installed, the files side by side, a fresh key, `esphome config` passes."""
    outputs = machine.run_guide("esphome.md")
    folder = machine.home / "sotto-esphome"
    for name in ("atom-echo.yaml", "esp32-s3-box.yaml", "sotto-voice.yaml", "secrets.yaml"):
        assert (folder / name).is_file(), name
    secrets = yaml.safe_load((folder / "secrets.yaml").read_text())
    assert len(base64.b64decode(secrets["sotto_api_key"], validate=True)) == 32
    assert "REPLACE" not in secrets["sotto_ota_password"]
    assert f'sotto_api_key: "{secrets["sotto_api_key"]}"' in "\n".join(outputs.values())
