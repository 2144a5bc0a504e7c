"""Gmail's batch answers: split a ``multipart/mixed`` body into its inner HTTP responses."""

from __future__ import annotations

import re

import httpx

from .util import to_int

__all__ = ["parse_http", "split_batch", "split_head"]

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_PART_ID = re.compile(r"item(\d+)")


def split_batch(response: httpx.Response) -> list[tuple[int, httpx.Response]] | None:
    """Split a ``multipart/mixed`` batch answer into (part index, inner response) pairs."""
    found = _BOUNDARY.search(response.headers.get("content-type", ""))
    if found is None:
        return None
    delimiter = b"--" + found.group(1).encode()
    answers = []
    for position, chunk in enumerate(response.content.split(delimiter)[1:]):
        if chunk.startswith(b"--"):
            break
        part_head, inner = split_head(chunk.lstrip(b"\r\n"))
        if inner is None:
            return None
        numbered = _PART_ID.search(part_head.get("content-id", ""))
        inner_response = parse_http(inner)
        if inner_response is None:
            return None
        answers.append((int(numbered.group(1)) if numbered else position, inner_response))
    return answers


def split_head(data: bytes) -> tuple[dict[str, str], bytes | None]:
    """Split a header block from what follows the blank line (CRLF or LF)."""
    match = re.search(rb"\r?\n\r?\n", data)
    if match is None:
        return {}, None
    headers: dict[str, str] = {}
    for line in data[: match.start()].decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, data[match.end() :]


def parse_http(data: bytes) -> httpx.Response | None:
    """Parse one ``application/http`` response (status line, headers, body)."""
    status_line, _, rest = data.partition(b"\n")
    words = status_line.decode("latin-1").split()
    if len(words) < 2 or not words[1].isdigit():
        return None
    headers: dict[str, str] = {}
    if rest.startswith((b"\r\n", b"\n")):  # no headers at all
        body = rest.split(b"\n", 1)[1]
    else:
        headers, parsed = split_head(rest)
        body = parsed if parsed is not None else b""
    length = to_int(headers.pop("content-length", None))
    content = body[:length] if length is not None else body.rstrip(b"\r\n")
    return httpx.Response(int(words[1]), headers=headers, content=content)
