"""Security findings (issue 14, section 5), redaction half: a webhook token and a URL's
password never appear in what quantbot prints or writes, and a secret put inline in
config.toml is refused without its value being echoed."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from quantbot.config.schema import config_hash, load_config
from tests.integration.daemon import quantbot_env, run

pytestmark = pytest.mark.e2e

PASSWORD = "PW-hunter2-secret"
PATH_TOKEN = "WEBHOOK-TOKEN-abc123"
QUERY_TOKEN = "QS-TOKEN-xyz789"
SECRETS = (PASSWORD, PATH_TOKEN, QUERY_TOKEN)

# Port 9 (discard) is closed: an alert posted during the run fails at once, on loopback.
CONFIG = f"""\
[venue.ccxt]
base_url = "http://trader:{PASSWORD}@127.0.0.1:9"

[alerts]
webhook_url = "http://127.0.0.1:9/services/T0001/B0002/{PATH_TOKEN}?token={QUERY_TOKEN}"
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(CONFIG)
    return tmp_path


def _assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} shown in {where}"


def test_config_check_shows_neither_the_webhook_token_nor_the_url_password(workdir: Path):
    result = run(workdir, "config", "check")
    assert result.returncode == 0, result.stderr
    _assert_no_secret(result.stdout, "stdout")
    _assert_no_secret(result.stderr, "stderr")
    shown = orjson.loads(result.stdout)["config"]
    # Still there, with what an operator needs to recognise them: scheme, host, port.
    assert shown["venue"]["ccxt"]["base_url"] == "http://<redacted>@127.0.0.1:9"
    assert shown["alerts"]["webhook_url"] == (
        "http://127.0.0.1:9/services/<redacted>/<redacted>/<redacted>?<redacted>"
    )


def test_the_config_hash_is_of_the_real_values_not_of_what_is_shown(workdir: Path):
    loaded = load_config(workdir / "config.toml", environ={})
    other = workdir / "other.toml"
    other.write_text(CONFIG.replace(PATH_TOKEN, "ANOTHER-TOKEN-456"))
    assert loaded.hash == config_hash(loaded.plain())
    assert load_config(other, environ={}).hash != loaded.hash


def test_a_paper_run_writes_no_token_in_its_manifest_logs_or_records(workdir: Path):
    result = run(workdir, "run", "--execution-mode", "paper", "--duration", "1s")
    assert result.returncode == 0, result.stderr
    _assert_no_secret(result.stdout + result.stderr, "the run's output")
    (manifest_path,) = (workdir / "runtime" / "manifests").glob("*.json")
    manifest = orjson.loads(manifest_path.read_bytes())
    assert manifest["config"]["alerts"]["webhook_url"].startswith("http://127.0.0.1:9/services/")
    real = load_config(workdir / "config.toml", environ=quantbot_env())
    assert manifest["config_hash"] == real.hash  # the run's overrides included
    written = [p for d in ("runtime", "state") for p in (workdir / d).rglob("*") if p.is_file()]
    assert manifest_path in written and any(p.name == "quantbot.log" for p in written)
    for path in written:
        _assert_no_secret(path.read_text(errors="replace"), str(path.relative_to(workdir)))


def test_a_secret_inline_in_the_config_is_refused_naming_key_and_line_not_value(
    workdir: Path,
):
    (workdir / "config.toml").write_text(
        '[run]\ntrading_profile = "conservative"\n\n[venue.ccxt]\nsecret = "INLINE-s3cr3t-42"\n'
    )
    result = run(workdir, "config", "check")
    assert result.returncode == 2, result.stderr
    assert "INLINE-s3cr3t-42" not in result.stderr + result.stdout
    assert "config.toml:5: venue.ccxt.secret" in result.stderr, result.stderr
    assert "venue.ccxt.secret_env" in result.stderr  # where the variable's name goes instead
