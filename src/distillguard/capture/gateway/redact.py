"""Keep secrets out of what the gateway says: logs, ``/healthz`` and error bodies.

A :class:`Redactor` masks, in any text, the password of every URL (``scheme://user:pw@``
becomes ``scheme://user:***@``; ``password=...`` query parameters too) and, verbatim, each secret
it was given: the password of ``DISTILLGUARD_DB`` and of each upstream's ``base_url`` (as written
and percent-decoded), the vendor keys and the admin token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from distillguard.config import Settings

MASK = "***"
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s\"']*):[^@/\s\"']*@")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd)=)[^&\s\"']*", re.IGNORECASE)
#: Secrets shorter than this are left to the URL patterns (masking "ab" everywhere hides text).
MIN_SECRET = 4
SECRET_ENV = ("DISTILLGUARD_ADMIN_TOKEN",)


class Redactor:
    """Masks URL passwords and the given secrets (longest first) in a text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found = {s for s in secrets if len(s) >= MIN_SECRET}
        self._secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub(rf"\g<head>:{MASK}@", text)
        text = _QUERY_PASSWORD.sub(rf"\g<head>{MASK}", text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    @classmethod
    def of(cls, settings: Settings, env: Mapping[str, str]) -> Redactor:
        """The redactor of a gateway with these settings and environment."""
        urls = [settings.db_url, *(up.base_url for up in settings.upstreams.values())]
        names = [*(up.key_env for up in settings.upstreams.values() if up.key_env), *SECRET_ENV]
        secrets = [password for url in urls for password in url_passwords(url)]
        return cls([*secrets, *(env.get(name) or "" for name in names)])


def url_passwords(url: str) -> list[str]:
    """The passwords in ``url`` (its userinfo, ``password=`` parameters), as written and
    percent-decoded."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:  # not a URL at all: nothing to find in it
        return []
    found += [value for key, value in query if key.lower() in ("password", "passwd", "pwd")]
    userinfo = parts.netloc.rpartition("@")[0]
    found.append(userinfo.partition(":")[2])
    return [s for p in found if p for s in {p, unquote(p)}]
