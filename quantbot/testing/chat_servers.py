"""Loopback chat servers that speak the notification APIs: Telegram's Bot API
(``sendMessage``), a Discord channel webhook and a generic JSON webhook, on 127.0.0.1.

Tests start one in-process (``port = await TelegramServer(token).start()``) and point the
daemon at it (``[notify.telegram] api_base = "http://127.0.0.1:<port>"``, or the webhook URL
in its environment variable); each keeps what it was sent (``requests``: every attempt,
``messages``: the texts it accepted) and answers as the real service does:

- Telegram: ``{"ok": true, "result": <Message>}``; a wrong token gets 401 ``{"ok": false,
  "error_code": 401, "description": "Unauthorized"}``; a throttle 429 with
  ``parameters.retry_after``; no chat or text 400.
- Discord: 204 No Content; a wrong webhook token 401 ``{"message": "Invalid Webhook Token",
  "code": 50027}``; a throttle 429 ``{"message": "You are being rate limited.",
  "retry_after": s, "global": false}`` with ``Retry-After``; content over 2000 characters 400.
- Webhook: 200 ``{"ok": true}``; a wrong path 404; a throttle 429 with ``Retry-After``.

Faults for every server: ``throttle(n, retry_after)`` answers the next n requests 429,
``fail(n, status)`` the next n with that status, ``hang = True`` never answers (the request
waits until the server stops). A person can run one by hand:
``python -m quantbot.testing.chat_servers telegram --port 8790 --token 123:abc``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import attrs
from aiohttp import web

from quantbot.clock import NS_PER_S, Clock, LiveClock

TEST_TELEGRAM_TOKEN = "123456789:AAHloopback-test-token-0123456789abcd"
TEST_DISCORD_PATH = "/api/webhooks/1100000000000000001/loopback-discord-token-0123456789abcdef"
TEST_WEBHOOK_PATH = "/hooks/loopback-webhook-token-0123456789"


@attrs.define
class Received:
    path: str
    body: Any  # the JSON body, or the raw text when it was not JSON
    status: int  # what the server answered (0: it never answered)
    at_ns: int  # monotonic, when it arrived


class ChatServer:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or LiveClock()
        self.requests: list[Received] = []
        self.messages: list[str] = []
        self.hang = False
        self._throttle: list[float] = []  # retry_after of the next requests to refuse
        self._fail: list[int] = []
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- faults ---------------------------------------------------------------------------
    def throttle(self, n: int = 1, retry_after: float = 1) -> None:
        self._throttle += [retry_after] * n

    def fail(self, n: int = 1, status: int = 502) -> None:
        self._fail += [status] * n

    # -- life ------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        # Short shutdown grace: a hanging request must not keep stop() waiting.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- requests --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = await request.json()
        except ValueError:
            body = raw.decode("utf-8", "replace")
        seen = Received(request.path, body, 0, self._clock.monotonic_ns())
        self.requests.append(seen)
        if self.hang:
            await self._release.wait()
            raise web.HTTPServiceUnavailable()
        response = self._fault() or self.answer(request.path, body)
        seen.status = response.status
        return response

    def _fault(self) -> web.Response | None:
        if self._throttle:
            return self.throttled(self._throttle.pop(0))
        if self._fail:
            return web.json_response({"error": "loopback fault"}, status=self._fail.pop(0))
        return None

    def answer(self, path: str, body: Any) -> web.Response:
        raise NotImplementedError

    def throttled(self, retry_after: float) -> web.Response:
        raise NotImplementedError


class TelegramServer(ChatServer):
    """The Bot API's ``sendMessage`` for one bot token."""

    def __init__(self, token: str = TEST_TELEGRAM_TOKEN, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.token = token
        self._message_id = 0

    def answer(self, path: str, body: Any) -> web.Response:
        bot, _, method = path.strip("/").partition("/")
        if bot != f"bot{self.token}":
            return _telegram_error(401, "Unauthorized")
        if method != "sendMessage":
            return _telegram_error(404, "Not Found")
        if not isinstance(body, dict) or not body.get("chat_id"):
            return _telegram_error(400, "Bad Request: chat not found")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return _telegram_error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _telegram_error(400, "Bad Request: message is too long")
        self._message_id += 1
        self.messages.append(text)
        now_s = LiveClock().now_ns() // NS_PER_S
        result = {
            "message_id": self._message_id,
            "from": {"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "qb"},
            "chat": {"id": body["chat_id"], "type": "private"},
            "date": now_s,
            "text": text,
        }
        return web.json_response({"ok": True, "result": result})

    def throttled(self, retry_after: float) -> web.Response:
        seconds = max(1, round(retry_after))  # Telegram says whole seconds
        return web.json_response(
            {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {seconds}",
                "parameters": {"retry_after": seconds},
            },
            status=429,
        )


def _telegram_error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=code
    )


class DiscordServer(ChatServer):
    """One Discord channel webhook (``/api/webhooks/<id>/<token>``)."""

    def __init__(self, path: str = TEST_DISCORD_PATH, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.path = path

    @property
    def url(self) -> str:
        return self.base_url + self.path

    def answer(self, path: str, body: Any) -> web.Response:
        if path != self.path:
            return web.json_response(
                {"message": "Invalid Webhook Token", "code": 50027}, status=401
            )
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, str) or not content.strip():
            return web.json_response({"message": "Cannot send an empty message", "code": 50006},
                                     status=400)  # fmt: skip
        if len(content) > 2000:
            return web.json_response({"content": ["Must be 2000 or fewer in length."]}, status=400)
        self.messages.append(content)
        return web.Response(status=204)

    def throttled(self, retry_after: float) -> web.Response:
        return web.json_response(
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            status=429,
            headers={"Retry-After": str(max(1, round(retry_after)))},
        )


class WebhookServer(ChatServer):
    """A generic JSON webhook at one secret path."""

    def __init__(self, path: str = TEST_WEBHOOK_PATH, clock: Clock | None = None) -> None:
        super().__init__(clock)
        self.path = path
        self.bodies: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return self.base_url + self.path

    def answer(self, path: str, body: Any) -> web.Response:
        if path != self.path:
            return web.json_response({"error": "not found"}, status=404)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return web.json_response({"error": "a JSON object with text expected"}, status=400)
        self.bodies.append(body)
        self.messages.append(body["text"])
        return web.json_response({"ok": True})

    def throttled(self, retry_after: float) -> web.Response:
        return web.json_response(
            {"error": "rate limited"},
            status=429,
            headers={"Retry-After": str(max(1, round(retry_after)))},
        )


SERVERS = {"telegram": TelegramServer, "discord": DiscordServer, "webhook": WebhookServer}


async def _serve(kind: str, port: int, secret: str | None) -> None:
    server: ChatServer = SERVERS[kind](secret) if secret else SERVERS[kind]()
    await server.start(port=port)
    where = server.base_url
    print(f"{kind} loopback on {where} (Ctrl-C stops it)", file=sys.stderr)
    seen = 0
    while True:
        await asyncio.sleep(0.5)
        for text in server.messages[seen:]:
            print(f"--- {kind} message\n{text}", flush=True)
        seen = len(server.messages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(SERVERS))
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument(
        "--secret", help="Telegram: the bot token; Discord/webhook: the URL path it accepts"
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.kind, args.port, args.secret))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
