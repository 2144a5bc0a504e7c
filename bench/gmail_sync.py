"""A full Gmail sync of N messages through the real job vs a minimal hand-written loop.

The fake Gmail (``FakeGmail(items=N)``, latency 0) is served over loopback by
``syncjobs.testing.fakes.serve`` in its own process, so its CPU and its N-message dataset are
neither in the measured process nor in its memory. Both sides run in fresh subprocesses on
the same durable PostgreSQL, one after the other, against the same fake:

- syncjobs: an in-process app on that PostgreSQL (``SQLAlchemyRepository(url,
  table_prefix=…)``, ``default_deps`` with ``allow_plaintext_tokens``, ``register_actors``
  on a ``StubBroker``), ``connect_account`` + ``sync_account``, run by ``app.worker(threads=1)``
  until the job completes. Rate = N / (the job's ``completed_at`` - ``started_at``).
- the loop ("the limit on this machine"): httpx ``messages.list`` pages of 500, multipart
  batch ``messages.get?format=metadata`` of 50 (the adapter's ``split_batch`` parses the
  answers; the request is built by hand), then per list page psycopg ``COPY`` into a temp
  table and one ``INSERT … ON CONFLICT`` into a table with the items table's columns
  (the same DDL), one commit per list page. Rate = N / (first request -> last commit).

Peak memory: the syncjobs sync of SMALL and of N items, each in a fresh subprocess, reads
its peak resident set size at the end: ``VmHWM`` from /proc/self/status (peak RSS of the
whole process, interpreter and imports included; not tracemalloc). Not ``ru_maxrss``: Linux
carries that across fork and execve, so a child of the (bigger) bench process reports the
parent's peak instead of its own; it is saved as well (``ru_maxrss_mib``) for comparison.
A CHECKPOINT precedes every run.
Run: `.venv/bin/python bench/gmail_sync.py [N] [SMALL]`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, aim, libpq, maxrss_mib, peak_rss_mib, save, servers

OWNER = "bench"
LIST_PAGE, BATCH = 500, 50
COLUMNS = (
    "account_id",
    "external_id",
    "kind",
    "title",
    "text",
    "author",
    "published_at",
    "metrics",
    "raw",
    "content_hash",
    "first_seen_at",
    "last_modified_at",
    "last_seen_at",
    "deleted_at",
    "analysis_state",
)
UPDATED = (
    "kind",
    "title",
    "text",
    "author",
    "published_at",
    "metrics",
    "raw",
    "content_hash",
    "last_modified_at",
    "last_seen_at",
    "deleted_at",
)


# --------------------------------------------------------------------------- subprocesses


def _serve(items: int) -> None:
    """Child: serve a seeded FakeGmail on loopback until stdin closes."""
    import dataclasses

    from syncjobs.testing.fakes import FakeGmail, serve

    fake = FakeGmail(items=items, seed=0)
    with serve(fake) as root:
        info = {
            "root": root,
            "config": dataclasses.asdict(fake.config(root)),
            "tokens": fake.issue_tokens(expires_in=86400).model_dump(mode="json"),
            "items": len(fake.dataset()),
        }
        print(json.dumps(info), flush=True)
        sys.stdin.read()


def _ours(spec: dict[str, Any]) -> dict[str, Any]:
    """Child: the real sync job, in-process, on the bench's PostgreSQL."""
    from dramatiq.brokers.stub import StubBroker

    from syncjobs import builtin_jobs  # noqa: F401  (declares sync_account)
    from syncjobs.app import register_actors
    from syncjobs.core.models import JobStatus
    from syncjobs.factory import default_deps
    from syncjobs.settings import ProviderSettings, Settings
    from syncjobs.storage.sql import SQLAlchemyRepository

    settings = Settings(
        database_url=spec["pg_url"],
        table_prefix=spec["prefix"],
        broker_url="memory://",
        allow_plaintext_tokens=True,
        gmail=ProviderSettings(**spec["config"]),
    )
    repo = SQLAlchemyRepository(spec["pg_url"], table_prefix=spec["prefix"], check=False)
    repo.upgrade()
    broker = StubBroker()
    broker.emit_after("process_boot")
    app = register_actors(broker, default_deps(repo, settings), settings)
    account = app.accounts.connect(OWNER, "gmail", spec["tokens"])
    began = time.perf_counter()
    job = app.accounts.sync(account.id, owner_id=OWNER)
    with app.worker(threads=1):
        while not (job := app.status(job.id, owner_id=OWNER)).is_terminal:
            time.sleep(0.1)
    wall = time.perf_counter() - began
    if job.status is not JobStatus.COMPLETED or not job.started_at or not job.completed_at:
        raise RuntimeError(f"sync ended {job.status}: {job.error_code} {job.error_message}")
    stored = _count(spec, account.id)
    app.close()
    return {
        "items": stored,
        "seconds": (job.completed_at - job.started_at).total_seconds(),
        "wall_seconds": wall,
        "result": job.result,
        "peak_rss_mib": peak_rss_mib(),
        "ru_maxrss_mib": maxrss_mib(),
    }


def _batch_body(path: str, ids: list[str]) -> tuple[bytes, str]:
    boundary = f"b{uuid.uuid4().hex}"
    parts = [
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{n}>\r\n\r\n"
        f"GET {path}/messages/{quote(i, safe='')}?format=metadata HTTP/1.1\r\n\r\n"
        for n, i in enumerate(ids)
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), boundary


def _row(account_id: str, raw: bytes, now: datetime) -> tuple[Any, ...]:
    msg = json.loads(raw)
    headers = {h["name"].lower(): h["value"] for h in (msg.get("payload") or {}).get("headers", [])}
    millis = msg.get("internalDate")
    published = datetime.fromtimestamp(int(millis) / 1000, UTC) if millis else None
    return (
        account_id,
        msg["id"],
        "email",
        headers.get("subject"),
        msg.get("snippet"),
        headers.get("from"),
        published,
        json.dumps({"size": msg.get("sizeEstimate")}),
        raw.decode(),
        hashlib.sha256(raw).hexdigest()[:32],
        now,
        now,
        now,
        None,
        "queued",
    )


def _loop(spec: dict[str, Any]) -> dict[str, Any]:
    """Child: the minimal hand-written sync over the same fake into an items-like table."""
    import httpx
    import psycopg

    from syncjobs.providers.gmail import batch_url_for
    from syncjobs.providers.gmail_batch import split_batch
    from syncjobs.storage.sql import SQLAlchemyRepository

    repo = SQLAlchemyRepository(spec["pg_url"], table_prefix=spec["prefix"], check=False)
    repo.upgrade()  # the items table's own DDL: same columns, unique key and index
    repo.close()
    items, cols = f'"{spec["prefix"]}items"', ", ".join(COLUMNS)
    upsert = (
        f"INSERT INTO {items} ({cols}) SELECT {cols} FROM stage ON CONFLICT "
        f"(account_id, external_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in UPDATED)
    )
    base = spec["config"]["base_url"].rstrip("/")
    batch_url, path = batch_url_for(base), urlsplit(base).path
    account_id = str(uuid.uuid4())
    auth = {"Authorization": f"Bearer {spec['tokens']['access_token']}"}
    with (
        httpx.Client(headers=auth, timeout=60) as http,
        psycopg.connect(libpq(spec["pg_url"])) as conn,
    ):
        conn.execute(
            f"CREATE TEMP TABLE stage ON COMMIT DELETE ROWS AS SELECT {cols} "
            f"FROM {items} WITH NO DATA"
        )
        conn.commit()
        began = time.perf_counter()
        params: dict[str, Any] = {"maxResults": LIST_PAGE}
        while True:
            listing = http.get(f"{base}/messages", params=params).raise_for_status().json()
            ids = [ref["id"] for ref in listing.get("messages", [])]
            now, rows = datetime.now(UTC), []
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                body, boundary = _batch_body(path, chunk)
                answer = http.post(
                    batch_url,
                    content=body,
                    headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
                ).raise_for_status()
                parts = split_batch(answer)
                if parts is None or len(parts) != len(chunk):
                    raise RuntimeError("unexpected batch answer")
                for _, part in parts:
                    if part.status_code != 200:
                        raise RuntimeError(f"batch part answered {part.status_code}")
                    rows.append(_row(account_id, part.content, now))
            with conn.cursor() as cur:
                with cur.copy(f"COPY stage ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(upsert)
            conn.commit()
            if not listing.get("nextPageToken"):
                break
            params["pageToken"] = listing["nextPageToken"]
        seconds = time.perf_counter() - began
    return {
        "items": _count(spec, account_id),
        "seconds": seconds,
        "peak_rss_mib": peak_rss_mib(),
        "ru_maxrss_mib": maxrss_mib(),
    }


def _count(spec: dict[str, Any], account_id: str) -> int:
    import psycopg

    with psycopg.connect(libpq(spec["pg_url"])) as conn:
        row = conn.execute(
            f'SELECT count(*) FROM "{spec["prefix"]}items" WHERE account_id = %s '
            "AND deleted_at IS NULL",
            (account_id,),
        ).fetchone()
    return int(row[0]) if row else 0


CHILDREN = {"--ours": _ours, "--loop": _loop}


# --------------------------------------------------------------------------- the bench


@contextmanager
def fake_gmail(items: int) -> Iterator[dict[str, Any]]:
    """A FakeGmail of ``items`` messages served by a subprocess; its root, config, tokens."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(items)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake Gmail server did not start")
        yield json.loads(line)
    finally:
        proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _child(mode: str, fake: dict[str, Any], pg_url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(libpq(pg_url), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    spec = {**fake, "pg_url": pg_url, "prefix": f"g{uuid.uuid4().hex[:8]}_"}
    done = subprocess.run(
        [sys.executable, __file__, mode, json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{done.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if out["items"] != fake["items"]:
        raise RuntimeError(f"{mode} stored {out['items']} of {fake['items']} messages")
    out["items_per_s"] = round(out["items"] / out["seconds"])
    return out


def run(items: int = 100_000, small: int = 10_000) -> dict[str, Any]:
    """Measure and return the figures."""
    with servers() as (_, pg_url):
        with fake_gmail(items) as fake:
            ours = _child("--ours", fake, pg_url)
            loop = _child("--loop", fake, pg_url)
        with fake_gmail(small) as fake:
            ours_small = _child("--ours", fake, pg_url)
    return {
        "items": items,
        "small": small,
        "loop": loop,
        "syncjobs": ours,
        "syncjobs_small": ours_small,
        "syncjobs_over_loop": round(ours["items_per_s"] / loop["items_per_s"], 3),
        "memory": "VmHWM: peak RSS of the whole subprocess (ru_maxrss is inherited on Linux)",
        "peak_rss_large_over_small": round(ours["peak_rss_mib"] / ours_small["peak_rss_mib"], 3),
        "rounds": 1,
        "baseline_description": f"a minimal httpx + COPY loop over the same fake Gmail "
        f"(items/s); the same syncjobs sync of {small:,} messages (peak memory)",
        "aims": [
            aim(
                f"items/s, full sync of {items:,} messages",
                baseline_name="minimal httpx + COPY loop",
                baseline=loop["items_per_s"],
                value=ours["items_per_s"],
                target=0.5,
                unit="items/s",
            ),
            aim(
                f"peak RSS at {items:,} messages",
                baseline_name=f"syncjobs at {small:,} messages",
                baseline=ours_small["peak_rss_mib"],
                value=ours["peak_rss_mib"],
                target=1.2,
                better="lower",
                unit="MiB",
            ),
        ],
    }


def show(result: dict[str, Any], console: Console) -> None:
    """Print the figures as tables."""
    n, small = result["items"], result["small"]
    table = Table(
        "figure",
        "minimal loop",
        "syncjobs",
        "ratio",
        title=f"Gmail full sync of {n:,} messages (fake over loopback, PostgreSQL)",
        caption="ratio = syncjobs ÷ loop items/s (aim ≥ 0.5)",
    )
    loop, ours = result["loop"], result["syncjobs"]
    table.add_row(
        "items/s",
        f"{loop['items_per_s']:,}",
        f"{ours['items_per_s']:,}",
        f"{result['syncjobs_over_loop']}x",
    )
    table.add_row("seconds", f"{loop['seconds']:.1f}", f"{ours['seconds']:.1f}", "")
    console.print(table)
    memory = Table(
        "figure",
        f"{small:,} items",
        f"{n:,} items",
        "ratio",
        title="syncjobs Gmail sync: peak memory (VmHWM, fresh subprocess each)",
        caption=f"ratio = {n:,} ÷ {small:,} (aim ≤ 1.2); "
        f"the loop's own peak at {n:,}: {loop['peak_rss_mib']} MiB",
    )
    memory.add_row(
        "peak RSS MiB",
        str(result["syncjobs_small"]["peak_rss_mib"]),
        str(ours["peak_rss_mib"]),
        f"{result['peak_rss_large_over_small']}x",
    )
    console.print(memory)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _serve(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        print(json.dumps(CHILDREN[sys.argv[1]](json.loads(sys.argv[2]))), flush=True)
    else:
        args = [int(a) for a in sys.argv[1:3]]
        res = run(*args)
        save("gmail_sync", res)
        show(res, Console())
