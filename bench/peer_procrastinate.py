"""Procrastinate app of bench/peers.py: one no-op task on the bench's PostgreSQL.

Workers: ``python -m procrastinate --app=bench.peer_procrastinate.app worker --queues=peers
--concurrency=8`` (two of them). The pool holds 10 connections (psycopg_pool's default is 4,
fewer than the 8 concurrent jobs).
"""

from __future__ import annotations

import os

import procrastinate

POOL_SIZE = 10

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(
        conninfo=os.environ["BENCH_PG_DSN"], min_size=POOL_SIZE, max_size=POOL_SIZE
    )
)


@app.task(name="peer_noop", queue="peers")
async def noop() -> None:
    """Do nothing (an async task: Procrastinate's own concurrency model, no thread hop)."""
