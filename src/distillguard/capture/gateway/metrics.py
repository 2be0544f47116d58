"""Prometheus metrics of one gateway, in a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "distillguard_requests", "Requests by upstream and status", ["upstream", "status"],
            registry=r,
        )  # fmt: skip
        self.refusals = Counter(
            "distillguard_refusals", "Requests refused by the gateway, by reason (not_found: an "
            "endpoint it does not serve; each refusal also logs its upstream and why)",
            ["reason"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "distillguard_request_seconds", "Time from request to the last byte sent",
            ["upstream"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.outputs = Counter(
            "distillguard_outputs", "Outputs captured and spooled", ["upstream"], registry=r
        )
        self.unparsed = Counter(
            "distillguard_unparsed_outputs", "Outputs recorded raw: no parser read their answer",
            ["upstream"], registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "distillguard_tokens", "Tokens by upstream and kind", ["upstream", "kind"], registry=r
        )
        self.cost = Counter("distillguard_cost_usd", "Priced cost", ["upstream"], registry=r)
        self.spool_depth = Gauge(
            "distillguard_spool_depth", "Records spooled, not yet in the ledger", registry=r
        )
        self.ledger_writes = Counter(
            "distillguard_ledger_writes", "Records moved into the ledger", registry=r
        )
        self.ledger_errors = Counter(
            "distillguard_ledger_write_errors", "Failed ledger writes (retried)", registry=r
        )
        self.upstream_errors = Counter(
            "distillguard_upstream_errors", "Upstream connection errors", ["upstream"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
