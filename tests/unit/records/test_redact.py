"""records.redact: the one table of what is never shown."""

from __future__ import annotations

import pytest

from quantbot.records.redact import is_secret_name, redact_text, redact_tree, redact_url

R = "<redacted>"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://trader:pw@127.0.0.1:8765", f"http://{R}@127.0.0.1:8765"),
        ("https://ghp_tokenasuser@host.example/x", f"https://{R}@host.example/x"),
        (
            "https://api.binance.com/api/v3/order?timestamp=1&signature=ab",
            f"https://api.binance.com/api/v3/order?{R}",
        ),
        ("https://h.example/cb#access_token=abc", f"https://h.example/cb#{R}"),
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
            f"https://hooks.slack.com/services/{R}/{R}/{R}",
        ),
        (
            "https://discord.com/api/webhooks/123456789012345678/abcDEF-ghi_jkl",
            f"https://discord.com/api/webhooks/{R}/{R}",
        ),
        (
            "https://api.telegram.org/bot123456:AAH-token_xyz/sendMessage",
            f"https://api.telegram.org/bot{R}/sendMessage",
        ),
        (
            "https://x.webhook.office.com/webhookb2/1a2b@3c4d/IncomingWebhook/ab12/cd34",
            f"https://x.webhook.office.com/webhookb2/{R}/{R}/{R}/{R}",
        ),
        ("https://h.example/notify/0f1e2d3c4b5a69788796a5b4", f"https://h.example/notify/{R}"),
        # What is not a secret stays readable.
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        (
            "https://paper-api.alpaca.markets/v2/orders",
            "https://paper-api.alpaca.markets/v2/orders",
        ),
        ("wss://stream.binance.com:9443/ws", "wss://stream.binance.com:9443/ws"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_finds_urls_bearer_tokens_and_secret_pairs() -> None:
    text = (
        "POST https://u:pw@h.example/hooks/T0K3N?x=1 failed; Authorization: Bearer tok456, "
        "{'X-MBX-APIKEY': 'KEY123'} apiKey=KEY789 password: hunter2"
    )
    shown = redact_text(text)
    for secret in ("u:pw", "T0K3N", "x=1", "tok456", "KEY123", "KEY789", "hunter2"):
        assert secret not in shown
    assert "https://<redacted>@h.example/hooks/<redacted>?<redacted>" in shown
    plain = "order SIMA BUY 10 @ 101.5 rejected: PRICE_COLLAR_BLOCK collar_bps=200"
    assert redact_text(plain) == plain


def test_redact_tree_leaves_names_of_variables_and_the_input_alone() -> None:
    tree = {
        "ccxt": {"secret_env": "QUANTBOT_CCXT_SECRET", "base_url": "http://a:b@h", "n": 3},
        "api_token": "abc",
        "symbols": ["SIMA", "http://h/x?k=v"],
    }
    shown = redact_tree(tree)
    assert shown == {
        "ccxt": {"secret_env": "QUANTBOT_CCXT_SECRET", "base_url": f"http://{R}@h", "n": 3},
        "api_token": R,
        "symbols": ["SIMA", f"http://h/x?{R}"],
    }
    assert tree["ccxt"]["base_url"] == "http://a:b@h"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_key", True),
        ("secret", True),
        ("webhook_token", True),
        ("password", True),
        ("secret_env", False),
        ("key_env_present", False),
        ("base_url", False),
        ("key_env", False),
    ],
)
def test_is_secret_name(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret
