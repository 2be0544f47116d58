"""A LiteLLM proxy callback that logs every successful call to PostgreSQL (runs inside LiteLLM).

LiteLLM's own database logging (``DATABASE_URL``) needs Prisma, whose CLI downloads its query
engine from binaries.prisma.sh at start-up: offline that fails, so the benchmark measures the
strongest form that runs: LiteLLM's ``standard_logging_object`` of every call (the payload its
spend logs are made from) inserted into a PostgreSQL table, in batches every 0.5 s (as LiteLLM
batches its own spend-log writes). Copied next to the proxy's config as ``pg_logger.py`` and
named there as ``pg_logger.proxy_handler_instance``. ``LITELLM_BENCH_PG`` is the database URL.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import psycopg
from litellm.integrations.custom_logger import CustomLogger

TABLE = "litellm_bench_logs"


class PgLogger(CustomLogger):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.url = os.environ["LITELLM_BENCH_PG"]
        self.pending: list[str] = []
        self.task: asyncio.Task[None] | None = None

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        payload = kwargs.get("standard_logging_object") or {"id": kwargs.get("litellm_call_id")}
        self.pending.append(json.dumps(payload, default=str))
        if self.task is None:
            self.task = asyncio.create_task(self.flush_forever())

    async def flush_forever(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        while True:
            await asyncio.sleep(0.5)
            batch, self.pending = self.pending, []
            if batch:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        f"INSERT INTO {TABLE} (payload) VALUES (%s::jsonb)", [(b,) for b in batch]
                    )


proxy_handler_instance = PgLogger()
