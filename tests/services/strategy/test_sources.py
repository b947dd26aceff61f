"""Strategy classes from directories and entry points; what fails is listed, with its reason."""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap
from pathlib import Path

import pytest

from backend.services.strategy.registry import (
    StrategyClassUnavailableError,
    UnknownStrategyClassError,
    load_registry,
)

CTA_FILE = '''
from vnpy_ctastrategy import ArrayManager, CtaTemplate


class FileCtaStrategy(CtaTemplate):
    """Buys every tenth bar."""

    window: int = 10
    threshold: float = 0.5
    use_stop: bool = False
    label: str = "x"
    parameters = ["window", "threshold", "use_stop", "label"]
    variables = ["count"]
    count: int = 0

    def on_init(self):
        self.am = ArrayManager()

    def on_bar(self, bar):
        self.count += 1
'''
REDFIRE_FILE = '''
from pydantic import BaseModel, ConfigDict

from backend.services.strategy.base import BaseStrategy


class FileParameters(BaseModel):
    size: int = 1


class FileRedFireStrategy(BaseStrategy):
    """Does nothing, politely."""

    parameters_model = FileParameters

    async def on_tick(self, tick):
        return None
'''
RULE_BREAKERS = """
from vnpy_ctastrategy import CtaTemplate

from backend.services.strategy.base import BaseStrategy


class ListParameterStrategy(CtaTemplate):
    levels: list = [1, 2]
    parameters = ["levels"]

    def on_init(self):
        pass


class MissingDefaultStrategy(CtaTemplate):
    parameters = ["ghost"]

    def on_init(self):
        pass


class NoModelStrategy(BaseStrategy):
    async def on_tick(self, tick):
        return None


class AbstractCtaStrategy(CtaTemplate):
    parameters = []
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def strategy_dir(tmp_path: Path) -> Path:
    write(tmp_path, "file_cta.py", CTA_FILE)
    write(tmp_path, "file_redfire.py", REDFIRE_FILE)
    write(tmp_path, "broken_syntax.py", "class Oops(:\n    pass\n")
    write(tmp_path, "missing_import.py", "import redfire_no_such_module\n")
    write(tmp_path, "rule_breakers.py", RULE_BREAKERS)
    write(tmp_path, "_helper.py", "raise RuntimeError('helpers are not imported')\n")
    write(tmp_path, "notes.txt", "not python")
    return tmp_path


def test_directory_classes_load_and_failures_are_listed_with_their_reason(
    strategy_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    registry = load_registry([strategy_dir])
    entries = {entry.class_name: entry for entry in registry.describe()}
    cta = entries["FileCtaStrategy"]
    assert cta.available
    assert (cta.kind, cta.source) == ("cta", str(strategy_dir / "file_cta.py"))
    assert cta.description == "Buys every tenth bar."
    assert cta.variables == ["count"]
    properties = cta.parameters["properties"]
    assert {name: spec["type"] for name, spec in properties.items()} == {
        "window": "integer", "threshold": "number", "use_stop": "boolean", "label": "string",
    }  # fmt: skip
    assert properties["threshold"]["default"] == 0.5
    redfire = entries["FileRedFireStrategy"]
    assert (redfire.available, redfire.kind) == (True, "redfire")
    assert redfire.description == "Does nothing, politely."

    syntax = entries["broken_syntax.py"]
    assert (syntax.available, syntax.kind) == (False, None)
    assert syntax.reason == "SyntaxError: invalid syntax (line 1)"
    assert entries["missing_import.py"].reason == (
        "ModuleNotFoundError: No module named 'redfire_no_such_module'"
    )
    assert "defaults to a list" in (entries["ListParameterStrategy"].reason or "")
    assert (
        entries["MissingDefaultStrategy"].reason == "parameter 'ghost' has no default on the class"
    )
    assert entries["NoModelStrategy"].reason == (
        "parameters_model must be a pydantic BaseModel subclass"
    )
    assert entries["AbstractCtaStrategy"].reason == "abstract: does not implement on_init"
    assert not any("helper" in name or "notes" in name for name in entries)
    # The built-ins carry on.
    assert entries["DoubleMaStrategy"].available
    assert entries["MovingAverageStrategy"].available

    unavailable = {name for name, entry in entries.items() if not entry.available}
    logged = [
        record for record in caplog.records if "strategy_class_unavailable" in str(record.msg)
    ]
    assert {record.msg["class_name"] for record in logged} == unavailable  # type: ignore[index]
    assert "SyntaxError: invalid syntax (line 1)" in caplog.text


def test_using_a_class_checks_its_rules(strategy_dir: Path) -> None:
    registry = load_registry([strategy_dir])
    with pytest.raises(StrategyClassUnavailableError) as raised:
        registry.validate("broken_syntax.py", {})
    assert raised.value.status_code == 422
    assert (
        raised.value.detail
        == "broken_syntax.py is unavailable: SyntaxError: invalid syntax (line 1)"
    )
    with pytest.raises(UnknownStrategyClassError):
        registry.entry("NoSuchStrategy")
    assert registry.normalize("FileCtaStrategy", {"threshold": 2}) == {
        "window": 10, "threshold": 2.0, "use_stop": False, "label": "x",
    }  # fmt: skip
    assert registry.entry("FileCtaStrategy").kind == "cta"
    assert registry.normalize("FileRedFireStrategy", {}) == {"size": 1}
    with pytest.raises(Exception, match="Extra inputs") as extra:
        registry.validate("FileRedFireStrategy", {"size": 2, "colour": "red"})
    assert extra.value.detail == [  # type: ignore[attr-defined]
        {"type": "extra_forbidden", "loc": ["parameters", "colour"],
         "msg": "Extra inputs are not permitted"},
    ]  # fmt: skip


def test_a_class_name_defined_twice_is_unavailable_everywhere(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    write(first, "mine.py", CTA_FILE)
    write(second, "copy.py", CTA_FILE)
    write(second, "double_ma.py", CTA_FILE.replace("FileCtaStrategy", "DoubleMaStrategy"))
    registry = load_registry([first, second, first])
    entries = {entry.class_name: entry for entry in registry.describe()}
    clash = entries["FileCtaStrategy"]
    assert not clash.available
    assert clash.reason == (
        f"class name FileCtaStrategy is defined 2 times ({first / 'mine.py'}; "
        f"{second / 'copy.py'}); class names must be unique: rename all but one"
    )
    shadowed = entries["DoubleMaStrategy"]
    assert not shadowed.available
    assert "vnpy_ctastrategy" in (shadowed.reason or "")
    assert entries["AtrRsiStrategy"].available


def test_entry_points_of_installed_distributions_are_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A distribution installed on sys.path (a dist-info directory) names its classes."""
    package = tmp_path / "redfire_plugin_example"
    package.mkdir()
    write(package, "__init__.py", CTA_FILE.replace("FileCtaStrategy", "PluginCtaStrategy"))
    write(package, "more.py", REDFIRE_FILE.replace("FileRedFireStrategy", "PluginStrategy"))
    dist_info = tmp_path / "redfire_plugin_example-1.0.dist-info"
    dist_info.mkdir()
    write(dist_info, "METADATA", "Metadata-Version: 2.1\nName: redfire-plugin-example\n"
          "Version: 1.0\n")  # fmt: skip
    write(dist_info, "entry_points.txt", """
        [redfire.strategies]
        plugin_cta = redfire_plugin_example:PluginCtaStrategy
        plugin_module = redfire_plugin_example.more
        plugin_missing = redfire_plugin_example:NotThere
        plugin_other = redfire_plugin_example:ArrayManager
    """)  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    try:
        entries = {entry.class_name: entry for entry in load_registry().describe()}
        skipped = {entry.class_name for entry in load_registry(entry_points=False).describe()}
    finally:
        for name in [name for name in sys.modules if name.startswith("redfire_plugin_example")]:
            del sys.modules[name]
    plugin = entries["PluginCtaStrategy"]
    assert (plugin.available, plugin.kind, plugin.source) == (True, "cta", "entry point plugin_cta")
    assert entries["PluginStrategy"].source == "entry point plugin_module"
    assert entries["PluginStrategy"].kind == "redfire"
    missing = entries["plugin_missing"]
    assert not missing.available
    assert missing.reason is not None
    assert missing.reason.startswith("AttributeError:")
    assert entries["plugin_other"].reason == (
        "redfire_plugin_example:ArrayManager is neither a BaseStrategy or CtaTemplate "
        "subclass nor a module"
    )
    assert "PluginCtaStrategy" not in skipped
