"""Sleeve kinds: a class of the user's own found by ``module:Class`` or ``path/file.py:Class``,
checked against the ``Sleeve`` protocol and built with its parameters, and every way that can
fail reported (through ``load_config``, as ``config check`` and ``run`` meet it) at the line
of the config file that names it."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest

from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError
from quantbot.domain.values import Bar
from quantbot.signals.configured import configured_sleeves, sleeves_manifest
from quantbot.signals.registry import SleeveParamsError, make_sleeve
from quantbot.signals.trend import TrendSleeve

REPO_ROOT = Path(__file__).resolve().parents[3]

HOLD = '''\
from quantbot.signals.base import SleeveSignal


class Hold:
    """Always long, at ``level``."""

    def __init__(self, name, *, level=1.0):
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"level must be in [0, 1], got {level}")
        self.name = name
        self.level = level
        self.warmup_bars = 0

    def update(self, bar):
        return SleeveSignal(self.level, 1.0, True, {})

    def reset(self, symbol):
        pass
'''


def config_for(tmp_path: Path, kind: str, params: str = "") -> Path:
    weights = "".join(
        f"[regime_components.{p}]\nmine = 1.0\n\n"
        for p in ("conservative", "balanced", "aggressive")
    )
    path = tmp_path / "config.toml"
    path.write_text(f'[signals.mine]\nkind = "{kind}"\n{params}\n{weights}', encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    return str(info.value)


def bar(symbol: str = "SIMA") -> Bar:
    return Bar(symbol, 60_000_000_000, 100.0, 101.0, 99.0, 100.5, 1000.0, 60)


def test_a_class_in_a_file_is_found_by_its_path_from_the_configs_directory(tmp_path: Path) -> None:
    (tmp_path / "strategies").mkdir()
    source = tmp_path / "strategies" / "hold.py"
    source.write_text(HOLD, encoding="utf-8")
    config = load_config(config_for(tmp_path, "strategies/hold.py:Hold", "level = 0.5"), environ={})

    [sleeve] = configured_sleeves(config.config, None)
    assert sleeve.name == "mine"
    assert sleeve.update(bar()).target == 0.5
    assert sleeves_manifest(config.config)["mine"] == {
        "kind": "strategies/hold.py:Hold",
        "source": str(source),
        "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "params": {"level": 0.5},
    }
    # Loaded once per process: the config check and the decision step share one module.
    [again] = configured_sleeves(config.config, None)
    assert type(again) is type(sleeve) and again is not sleeve


def test_a_class_in_a_package_is_imported_by_its_module_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "my_sleeves_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "hold.py").write_text(HOLD, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    config = load_config(config_for(tmp_path, "my_sleeves_pkg.hold:Hold"), environ={}).config

    [sleeve] = configured_sleeves(config, None)
    assert type(sleeve).__module__ == "my_sleeves_pkg.hold"
    manifest = sleeves_manifest(config)["mine"]
    assert manifest["source"] == str(package / "hold.py")
    assert manifest["sha256"] == hashlib.sha256(HOLD.encode()).hexdigest()
    monkeypatch.delitem(sys.modules, "my_sleeves_pkg.hold")
    monkeypatch.delitem(sys.modules, "my_sleeves_pkg")


def test_a_module_name_that_is_a_file_beside_the_config_says_how_to_name_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "hold_beside.py").write_text(HOLD, encoding="utf-8")
    path = config_for(tmp_path, "hold_beside:Hold")
    assert load_error(path) == (
        f"{path}:2: signals.mine.kind = 'hold_beside:Hold': no module named hold_beside; the "
        f"file {tmp_path / 'hold_beside.py'} is named by its path: 'hold_beside.py:Hold'"
    )
    path = config_for(tmp_path, "no_such_module_anywhere:Hold")
    assert load_error(path).endswith(
        "no module named no_such_module_anywhere (install it, or put its directory on "
        "PYTHONPATH; a file of your own is named by its path, 'path/file.py:Class', relative "
        "to the config file)"
    )


BROKEN = [
    # (the file, the kind's class, what the error says after the kind's file:line and value)
    (HOLD, "Hodl", "{file} has no Hodl (its classes: Hold, SleeveSignal)"),
    (HOLD + "NOT_A_CLASS = 3\n", "NOT_A_CLASS", "{file}:NOT_A_CLASS is not a class"),
    (
        HOLD.replace("    def update(self, bar):", "    def update(self):"),
        "Hold",
        "Hold does not satisfy the Sleeve protocol (quantbot.signals.base.Sleeve): update must "
        "take (bar): too many positional arguments",
    ),
    (
        HOLD.replace("class Hold:", "class Hold:\n    wants_context = True\n"),
        "Hold",
        "Hold does not satisfy the Sleeve protocol (quantbot.signals.base.Sleeve): update must "
        "take (bar, context) (wants_context = True): too many positional arguments",
    ),
    (
        HOLD.replace(
            "def __init__(self, name, *, level=1.0):", "def __init__(self, *, level=1.0):"
        ).replace("self.name = name", "self.name = 'mine'"),
        "Hold",
        "Hold must take the sleeve's name first",
    ),
    (
        HOLD.replace("self.name = name", "self.name = 'hold'"),
        "Hold",
        "Hold must keep the name it is given ('hold')",
    ),
    (
        HOLD.replace("self.warmup_bars = 0", "self.warmup_bars = -1"),
        "Hold",
        "Hold does not satisfy the Sleeve protocol (quantbot.signals.base.Sleeve): "
        "warmup_bars = -1",
    ),
    (
        "from quantbot.signals.base import SleeveSignal\n\nclass Hold(\n",
        "Hold",
        "{abs} does not import: {abs}:3: SyntaxError: '(' was never closed",
    ),
    (
        '"""A typo at the top level."""\n\nLEVEL = levle\n' + HOLD,
        "Hold",
        "{abs} does not import: {abs}:3: NameError: name 'levle' is not defined",
    ),
]


@pytest.mark.parametrize(("source", "cls", "error"), BROKEN)
def test_a_class_that_cannot_be_a_sleeve_is_an_error_at_the_kind_line(
    tmp_path: Path, source: str, cls: str, error: str
) -> None:
    file = tmp_path / "broken.py"
    file.write_text(source, encoding="utf-8")
    path = config_for(tmp_path, f"broken.py:{cls}")
    expected = error.format(file="broken.py", abs=file)
    assert load_error(path) == f"{path}:2: signals.mine.kind = 'broken.py:{cls}': {expected}"


def test_parameters_a_class_rejects_or_needs_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "hold.py").write_text(HOLD, encoding="utf-8")
    path = config_for(tmp_path, "hold.py:Hold", "level = 2.0")
    assert load_error(path) == (
        f"{path}:1: signals.mine = {{'kind': 'hold.py:Hold', 'level': 2.0}}: Hold rejects its "
        "parameters: level must be in [0, 1], got 2.0"
    )
    path = config_for(tmp_path, "hold.py:Hold", "leve = 0.5")
    assert load_error(path) == f"{path}:3: signals.mine.leve = 0.5: not a parameter of Hold (level)"
    (tmp_path / "needs.py").write_text(HOLD.replace("level=1.0", "level"), encoding="utf-8")
    path = config_for(tmp_path, "needs.py:Hold")
    assert load_error(path) == (
        f"{path}:1: signals.mine = {{'kind': 'needs.py:Hold'}}: Hold needs level"
    )


def test_a_builtin_rejects_what_its_checks_reject() -> None:
    with pytest.raises(SleeveParamsError, match=r"TrendSleeve rejects its parameters: trend"):
        make_sleeve(TrendSleeve, "t", {"fast": 5, "slow": 5})


def test_the_readme_sleeve_is_one_that_loads_and_runs(tmp_path: Path) -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Write your own sleeve", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    toml = re.search(r"```toml\n(.*?)```", section, re.S)
    assert code and toml
    (tmp_path / "sleeves").mkdir()
    (tmp_path / "sleeves" / "momentum.py").write_text(
        "\n".join(line.removeprefix("   ") for line in code.group(1).splitlines()),
        encoding="utf-8",
    )
    declared = "\n".join(line.removeprefix("   ") for line in toml.group(1).splitlines())
    rest = "".join(
        f"[regime_components.{p}]\nmomentum = 0.5\ntrend = 0.5\n"
        for p in ("balanced", "aggressive")
    )
    path = tmp_path / "config.toml"
    path.write_text(f"{declared}\n{rest}", encoding="utf-8")
    config = load_config(path, environ={}).config

    momentum, trend = configured_sleeves(config, None)
    assert (momentum.name, trend.name) == ("momentum", "trend")
    signals = [momentum.update(bar()) for _ in range(56)]
    assert [s.ready for s in signals] == [False] * 55 + [True]
    assert momentum.warmup_bars == 56
