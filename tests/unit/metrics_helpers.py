"""Reading Prometheus text the way a scraper does, for the metrics tests."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from syncjobs.metrics import WorkerMetrics

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(body: bytes | str) -> Samples:
    """Every sample of an exposition: (sample name, labels) → value."""
    text = body.decode() if isinstance(body, bytes) else body
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every series of one sample name, by labels."""
    return {labels: v for (n, labels), v in samples.items() if n == name}


def worker_samples(middleware: WorkerMetrics) -> Samples:
    """Scrape the middleware's registry."""
    return parse(generate_latest(middleware.registry))
