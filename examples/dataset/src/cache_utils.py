"""Cache helpers for the ingestion service."""
import logging

logger = logging.getLogger(__name__)


def prune(store, now, ttl):
    # prune old entries
    old = []
    for key, (stored_at, _value) in store.items():
        if now - stored_at > ttl:
            old.append(key)
    for key in old:
        del store[key]
    if old:
        logger.debug("expired %d entries", len(old))
    return len(old)


def clear(store):
    store.clear()
