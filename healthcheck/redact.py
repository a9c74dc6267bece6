"""One seam for secrets: every message, log line, fleet.json, index and report passes `redact`.

What is removed:

- each secret this process has read (`remember_secret`: the client's token or password, read
  from the variable or file an entry names) and the value of every environment variable a
  customer entry names (`token_env`), even when nothing has read it yet;
- ``user:password@`` in any URL (the password becomes ``***``);
- ``Authorization: Bearer …`` / ``Basic …`` values.

Secrets shorter than 4 characters are not registered: replacing them would mangle ordinary text.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable

MASK = "***"
_MIN_SECRET_CHARS = 4
_SECRETS: set[str] = set()
_ENV_NAMES: set[str] = set()
_GUARD = threading.Lock()
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^\s:/@]*):[^\s/@]*@")
_AUTH_VALUE = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")


def remember_secret(value: str | None) -> None:
    """Register a secret this process holds, so `redact` removes it wherever it shows."""
    if value is None:
        return
    value = value.strip()
    if len(value) >= _MIN_SECRET_CHARS:
        with _GUARD:
            _SECRETS.add(value)


def remember_env_names(names: Iterable[str | None]) -> None:
    """Register the environment variables customer entries name: their values are secrets."""
    with _GUARD:
        _ENV_NAMES.update(name for name in names if name)


def redact(text: str) -> str:
    """`text` without any known secret, URL password or Authorization value."""
    with _GUARD:
        secrets = set(_SECRETS)
        names = set(_ENV_NAMES)
    for name in names:
        value = os.environ.get(name, "").strip()
        if len(value) >= _MIN_SECRET_CHARS:
            secrets.add(value)
    # Longest first, so a secret containing another is removed whole.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _AUTH_VALUE.sub(lambda m: f"{m.group(1)} {MASK}", text)


def url_without_password(url: str) -> str:
    """The URL with any ``user:password@`` reduced to ``user:***@``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


# Free text people typed (survey answers): identities and anything shaped like a credential.
EMAIL_MASK = "[email removed]"
_EMAIL = re.compile(r"(?i)(?:mailto:)?[a-z0-9._%+'-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_TOKEN_SHAPES = re.compile(
    r"\b(?:"
    r"sgp_[A-Za-z0-9_]{8,}"  # Sourcegraph access tokens (sgp_<hex> and sgp_<id>_<hex>)
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|glpat-[A-Za-z0-9_-]{16,}"  # GitLab
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # JWTs
    r"|VXNlcj[A-Za-z0-9+/=]*"  # Sourcegraph GraphQL user ids: base64 of "User:<n>"
    r")"
)
# Any other long run of letters and digits mixing both (hex and base64 secrets, legacy
# 40-hex Sourcegraph tokens): no word a person writes looks like that.
_LONG_SECRET = re.compile(
    r"\b(?=[A-Za-z0-9_+/=-]*\d)(?=[A-Za-z0-9_+/=-]*[A-Za-z])[A-Za-z0-9_+/=-]{24,}"
)


def redact_free_text(text: str) -> str:
    """Text a person typed, without e-mail addresses, user ids, tokens or known secrets.

    `redact` first (the secrets this process holds, URL passwords, Authorization values), then
    e-mail addresses become ``[email removed]`` and token-shaped strings (Sourcegraph, GitHub,
    GitLab, Slack, AWS, JWT, GraphQL user ids, any 24+ character run mixing letters and digits)
    become ``***``.
    """
    text = redact(text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _TOKEN_SHAPES.sub(MASK, text)
    return _LONG_SECRET.sub(MASK, text)
