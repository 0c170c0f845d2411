"""Where notifications go: a generic JSON webhook, a Telegram chat, or a Discord webhook.

A destination is told by its URL's shape:

    telegram://-1001234567890          a chat id (or telegram://@channel); the bot token from
                                        FX_TELEGRAM_TOKEN, never from the URL or a file fx writes
    https://discord.com/api/webhooks/ID/TOKEN   (discordapp.com too)
    https://hooks.example.org/fx/abc   any other http(s) URL: a JSON POST

A destination's `name` is what logs, errors and results show. Webhook paths and bot tokens are
secrets (whoever has them can post), so a name is the host alone, never the path or token.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fxcli.errors import FxError

TELEGRAM_TOKEN_ENV = "FX_TELEGRAM_TOKEN"
# Base URLs, overridable so that tests (or a self-hosted Bot API server) can stand in for the real ones.
TELEGRAM_API_ENV = "FX_TELEGRAM_API_URL"
DISCORD_API_ENV = "FX_DISCORD_API_URL"
TELEGRAM_API = "https://api.telegram.org"
DISCORD_API = "https://discord.com/api"
DISCORD_HOSTS = ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com")

_CHAT_ID = re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,63}")
_TOKEN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{20,100}")
_DISCORD_PATH = re.compile(r"/api(?:/v\d+)?/webhooks/(\d{1,25})/([A-Za-z0-9_-]{1,200})/?")


@dataclass(frozen=True)
class RateLimit:
    """At most `count` messages per `per_s` seconds (what the service documents for one destination)."""

    count: int
    per_s: float


@dataclass(frozen=True)
class Destination:
    """One place to send messages: the request to make, and a name safe to print."""

    kind: str  # "webhook" | "telegram" | "discord"
    name: str  # redacted: no token, no webhook path
    url: str  # secret: never printed
    limit: RateLimit
    extra: Mapping[str, Any] = field(default_factory=dict)  # constant fields of every payload

    def payload(self, text: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body for one message: `text` (one line) and, for a webhook, its fields."""
        if self.kind == "telegram":
            return {**self.extra, "text": text, "disable_web_page_preview": True}
        if self.kind == "discord":
            # No mentions, ever: a symbol or detail that looks like @everyone must not ping a server.
            return {"content": text, "allowed_mentions": {"parse": []}}
        return {"source": "fx", "text": text, **fields}

    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in anything fx prints (used to scrub error text)."""
        parts = urllib.parse.urlsplit(self.url)
        found = [self.url, parts.path]
        if self.kind == "telegram":
            found += [seg.removeprefix("bot") for seg in parts.path.split("/") if seg.startswith("bot")]
        if self.kind == "discord":
            found += [seg for seg in parts.path.split("/")[-1:] if seg]
        return tuple(s for s in found if len(s) >= 4)


# Telegram: ~1 message a second per chat; Discord: 5 requests per 2 s per webhook. A generic webhook
# gets a polite default so that a burst of signals cannot flood someone's endpoint.
TELEGRAM_LIMIT = RateLimit(1, 1.0)
DISCORD_LIMIT = RateLimit(5, 2.0)
WEBHOOK_LIMIT = RateLimit(5, 1.0)


def redact_url(url: str) -> str:
    """`https://hooks.example.org/…`: scheme and host (and port) only; the path may be a secret."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    if not parts.scheme or not host:  # not a URL at all: its first part only (a path may follow)
        head = url.split("/", 1)[0][:40]
        return f"{head}/…" if "/" in url else head
    return f"{parts.scheme.lower()}://{host}{port}/…"


def destination(url: str, where: str, environ: Mapping[str, str] | None = None) -> Destination:
    """The destination a `--notify` value names; FxError (naming `where`, never the secret) if none."""
    env = os.environ if environ is None else environ
    text = url.strip()
    if not text:
        raise FxError(f"{where} is empty: give a webhook URL, telegram://CHAT_ID or a Discord webhook URL")
    try:
        parts = urllib.parse.urlsplit(text)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise FxError(f"{where} {redact_url(text)}: not a URL") from None
    scheme = parts.scheme.lower()
    if scheme == "telegram":
        return _telegram(parts, where, env)
    if scheme not in ("http", "https") or not parts.hostname or not port_ok or text != url:
        raise FxError(
            f"{where} {redact_url(text)}: not an http(s):// webhook, a telegram://CHAT_ID or a Discord "
            "webhook URL"
        )
    if parts.hostname.lower() in DISCORD_HOSTS:
        return _discord(parts, where, env)
    return Destination("webhook", f"webhook {redact_url(text)}", text, WEBHOOK_LIMIT)


def _telegram(parts: urllib.parse.SplitResult, where: str, env: Mapping[str, str]) -> Destination:
    chat = urllib.parse.unquote(parts.netloc + parts.path).strip("/")
    if not _CHAT_ID.fullmatch(chat):
        raise FxError(f"{where} telegram://…: the chat id must be a number or @channel_name")
    token = env.get(TELEGRAM_TOKEN_ENV, "").strip()
    if not token:
        raise FxError(f"{where} telegram://{chat}: set {TELEGRAM_TOKEN_ENV} to the bot's token")
    if not _TOKEN.fullmatch(token):
        raise FxError(f"{TELEGRAM_TOKEN_ENV}: not a bot token (digits, a colon, then the secret part)")
    base = _base(env, TELEGRAM_API_ENV, TELEGRAM_API)
    return Destination(
        "telegram",
        f"telegram chat {chat}",
        f"{base}/bot{token}/sendMessage",
        TELEGRAM_LIMIT,
        {"chat_id": int(chat) if chat.lstrip("-").isdigit() else chat},
    )


def _discord(parts: urllib.parse.SplitResult, where: str, env: Mapping[str, str]) -> Destination:
    found = _DISCORD_PATH.fullmatch(parts.path)
    if found is None:
        raise FxError(f"{where} https://{parts.hostname}/…: a Discord webhook is /api/webhooks/ID/TOKEN")
    hook_id, token = found.groups()
    base = _base(env, DISCORD_API_ENV, DISCORD_API)
    url = f"{base}/webhooks/{hook_id}/{token}"
    return Destination("discord", f"discord webhook {hook_id}", url, DISCORD_LIMIT)


def _base(env: Mapping[str, str], name: str, default: str) -> str:
    base = env.get(name, "").strip() or default
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FxError(f"{name}={redact_url(base)}: not an http(s):// URL")
    return base.rstrip("/")


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced by `…` (for error text that may echo a request's URL)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "…")
    return text
