"""Webhooks: what is checked at registration, how a delivery is signed, and when it is retried.

A delivery is a POST of a JSON body (the event: id, type, when, the record) with headers naming
the subscription, the event and the attempt's time, and `Territoire-Signature: sha256=<hex>`,
the HMAC-SHA256 of the exact body bytes with the subscription's secret. A receiver recomputes it
over the raw body and compares in constant time (see `signature`).
"""

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import socket
from datetime import timedelta
from urllib.parse import urlsplit

from app.services.registry import REGISTRY

SIGNATURE_HEADER = "Territoire-Signature"
OPERATIONS = {"insert": "created", "update": "updated", "delete": "deleted"}
# First retry after 30 s, doubling up to 6 h between attempts: about 20 attempts in 72 h.
FIRST_DELAY = timedelta(seconds=30)
LONGEST_DELAY = timedelta(hours=6)


class TargetRefusedError(ValueError):
    """A webhook URL that may not be called."""


def event_types() -> list[str]:
    """Every event type a subscription may ask for (and `*` for all of them)."""
    return [
        f"{dataset}.{verb}" for dataset in REGISTRY.identifiers() for verb in OPERATIONS.values()
    ]


def check_event_types(wanted: list[str]) -> dict[str, str]:
    """What is wrong with each unknown event type, by its place in the body."""
    known = set(event_types())
    return {
        f"event_types.{position}": (
            f"unknown event type {event[:80]!r}: use '<dataset>.<created|updated|deleted>', "
            "'<dataset>.*' or '*' (see /v1/webhooks/event-types)"
        )
        for position, event in enumerate(wanted)
        if event != "*" and event not in known and not _dataset_wildcard(event)
    }


def _dataset_wildcard(event: str) -> bool:
    dataset, _, verb = event.partition(".")
    return verb == "*" and dataset in REGISTRY.identifiers()


def wants(event_types_wanted: list[str], event_type: str) -> bool:
    dataset = event_type.partition(".")[0]
    return any(w in ("*", event_type, f"{dataset}.*") for w in event_types_wanted)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt (1, 2, ...): exponential, capped."""
    delay: timedelta = FIRST_DELAY * int(2 ** min(max(attempts - 1, 0), 20))
    return min(delay, LONGEST_DELAY)


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for label, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("unspecified", address.is_unspecified),
    ):
        if flag:
            return label
    if not address.is_global:
        return "not globally routable"
    return None


def check_url_form(url: str) -> str:
    """The host of an http(s) URL fit to be called; TargetRefusedError says what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefusedError(f"not a valid URL: {error}") from error
    if parts.scheme not in ("http", "https"):
        raise TargetRefusedError("the URL must start with http:// or https://")
    if not parts.hostname:
        raise TargetRefusedError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefusedError("credentials in the URL are refused; authenticate the signature")
    if parts.fragment:
        raise TargetRefusedError("the URL must not have a fragment")
    if port == 0:
        raise TargetRefusedError("port 0 is not a port")
    return parts.hostname


async def check_target(url: str, allow_private: bool) -> None:
    """Refuse a URL that is not http(s), or whose host is or resolves to a private, loopback,
    link-local or otherwise non-public address (server-side request forgery), unless allowed.
    Checked at registration and again before each delivery (a name may change address)."""
    host = check_url_form(url)
    if allow_private:
        return
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as error:
            raise TargetRefusedError(f"the host {host!r} does not resolve") from error
        addresses = [ipaddress.ip_address(str(entry[4][0]).split("%")[0]) for entry in found]
    for address in addresses:
        reason = _refused(address)
        if reason is not None:
            raise TargetRefusedError(
                f"the host {host!r} is a {reason} address ({address}): webhooks call public "
                "addresses only"
            )
