"""Webhooks only go where they should: never to loopback, private or other internal addresses.

An owner sets a webhook URL; without a check, a notifier would POST to
``http://169.254.169.254/…`` (a cloud's metadata service) or ``http://localhost:…`` on the
worker's behalf. ``check_webhook_url`` refuses such a URL when it is set, and
``GuardedTransport`` checks again when sending (DNS can change between the two): it resolves
the host, checks every address, and connects to the checked address itself, keeping the
``Host`` header and the TLS server name. ``allow_private`` (``SYNCJOBS_WEBHOOK_ALLOW_PRIVATE``)
lifts the check, for receivers on the operator's own network and for tests.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from ..errors import FatalError, InvalidInputError

__all__ = ["GuardedTransport", "check_webhook_url", "refused_because", "resolve"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The address classes refused, in the order they are named.
_CLASSES = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
)
ADVICE = "set SYNCJOBS_WEBHOOK_ALLOW_PRIVATE=true to allow internal receivers"


def refused_because(address: IPAddress) -> str | None:
    """Why a webhook may not go to ``address`` (``"loopback"``…), or None when it may."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    for attribute, name in _CLASSES:
        if getattr(address, attribute):
            return name
    return None if address.is_global else "not public"


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal is itself); OSError when none."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _first_refused(host: str, addresses: list[IPAddress]) -> str | None:
    for address in addresses:
        why = refused_because(address)
        if why is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            return f"{shown} is a {why} address"
    return None


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Refuse (InvalidInputError) a URL whose host is or resolves to an internal address.

    A name that does not resolve now is accepted: it is checked again at every delivery.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("invalid webhook URL: must be an absolute http(s) URL")
    if allow_private:
        return
    try:
        addresses = resolve(parts.hostname, parts.port or 443)
    except OSError:
        return
    refused = _first_refused(parts.hostname, addresses)
    if refused is not None:
        raise InvalidInputError(f"invalid webhook URL: {refused}; {ADVICE}")


class GuardedTransport(httpx.BaseTransport):
    """Resolves, checks every address, then connects to a checked one (no DNS in between).

    With its own transport (``inner`` None) the request goes to the checked IP, with the
    original ``Host`` header and TLS server name. A host-given ``inner`` transport (tests'
    in-process receivers) gets the request unchanged once the check passes; a name that does
    not resolve is then left to it.
    """

    def __init__(self, inner: httpx.BaseTransport | None, *, allow_private: bool) -> None:
        self._pin = inner is None
        self._inner = inner if inner is not None else httpx.HTTPTransport()
        self._allow_private = allow_private

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check the destination, then send (to the checked address when pinning)."""
        if self._allow_private and not self._pin:
            return self._inner.handle_request(request)
        host = request.url.host
        try:
            addresses = resolve(host, request.url.port or 443)
        except OSError as exc:
            if not self._pin:
                return self._inner.handle_request(request)
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from None
        refused = None if self._allow_private else _first_refused(host, addresses)
        if refused is not None:
            raise FatalError(
                f"webhook: refused destination, {refused}; {ADVICE}",
                provider="webhook",
                reason="forbidden_destination",
            )
        if not self._pin:
            return self._inner.handle_request(request)
        return self._send_pinned(request, host, addresses)

    def _send_pinned(
        self, request: httpx.Request, host: str, addresses: list[IPAddress]
    ) -> httpx.Response:
        """Try each checked address in turn, as a client trying a name's addresses would."""
        if host != str(addresses[0]):
            request.extensions = {**request.extensions, "sni_hostname": host}
        failure: httpx.ConnectError | None = None
        for address in addresses:
            request.url = request.url.copy_with(host=str(address))
            try:
                return self._inner.handle_request(request)
            except httpx.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()
