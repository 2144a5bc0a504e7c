"""Gmail's batch endpoint: a ``multipart/mixed`` body of ``application/http`` requests.

Each part is answered as if it had been sent alone (auth, faults, quota and all), and the
answers come back in one ``multipart/mixed`` body, each under ``Content-ID: <response-…>``.
A part without its own ``Authorization`` header uses the outer request's.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from syncjobs.testing.fakes.corpus import short_hash
from syncjobs.testing.fakes.google import GoogleFake
from syncjobs.testing.fakes.messages import Request, Response

__all__ = ["MAX_PARTS", "answer_batch"]

#: The most requests one batch may carry.
MAX_PARTS = 100


def answer_batch(fake: GoogleFake, request: Request) -> Response:
    """Answer a batch request with ``fake`` (its lock held), one response part per request part."""
    content_type = request.headers.get("content-type", "")
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/mixed") or found is None:
        return fake.bad_request("Batch requests must be multipart/mixed with a boundary.")
    parts = _split_multipart(request.body, found.group(1).encode())
    if not parts:
        return fake.bad_request("The batch request contains no parts.")
    if len(parts) > MAX_PARTS:
        return fake.bad_request(f"Too many requests in batch: {len(parts)} (at most {MAX_PARTS}).")
    boundary = f"batch_{short_hash(fake.seed, fake.requests)}"
    chunks = [_answer_part(fake, request, part, boundary) for part in parts]
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return Response(200, body, [("Content-Type", f"multipart/mixed; boundary={boundary}")])


def _answer_part(fake: GoogleFake, outer: Request, part: bytes, boundary: str) -> bytes:
    part_headers, inner = _split_head(part)
    content_id = part_headers.get("content-id", "").strip().strip("<>")
    response = _inner_response(fake, outer, inner)
    head = [f"--{boundary}", "Content-Type: application/http"]
    if content_id:
        head.append(f"Content-ID: <response-{content_id}>")
    inner_head = [f"HTTP/1.1 {response.status_line}"]
    inner_head += [f"{key}: {value}" for key, value in response.headers]
    inner_head.append(f"Content-Length: {len(response.body)}")
    text = "\r\n".join([*head, "", *inner_head, "", ""]).encode()
    return text + response.body + b"\r\n"


def _inner_response(fake: GoogleFake, outer: Request, inner: bytes) -> Response:
    """Answer one ``application/http`` part (e.g. ``GET /gmail/v1/users/me/messages/…``)."""
    first_line, _, rest = inner.partition(b"\n")
    request_line = first_line.decode("latin-1").split()
    inner_headers, _ = _split_head(rest)
    if len(request_line) < 2:
        return fake.bad_request("Malformed batch part.")
    target = urlsplit(request_line[1])
    path = target.path
    if "/gmail/v1/" in path:
        path = path[path.index("/gmail/v1/") :]
    if "authorization" not in inner_headers and "authorization" in outer.headers:
        inner_headers["authorization"] = outer.headers["authorization"]
    sub = Request(
        method=request_line[0].upper(),
        path=path,
        query=parse_qs(target.query, keep_blank_values=True),
        headers=inner_headers,
        root_url=outer.root_url,
    )
    found = fake.match(sub)
    if found is None or found[0].name in ("batch", "token"):
        return fake.not_found(sub)
    return fake.dispatch(found[0], found[1], sub)


def _split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts of a multipart body (the ``--boundary--`` epilogue dropped)."""
    chunks = body.replace(b"\r\n", b"\n").split(b"--" + boundary)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        parts.append(chunk.strip(b"\n"))
    return parts


def _split_head(data: bytes) -> tuple[dict[str, str], bytes]:
    """(lower-cased headers, rest) of a ``Header: value`` block ended by a blank line."""
    head, _, rest = data.partition(b"\n\n")
    headers = {}
    for line in head.decode("latin-1").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest
