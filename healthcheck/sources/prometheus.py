"""A Prometheus HTTP API client: auth, retries, and range answers parsed straight to numpy.

`PrometheusClient.query_range` sends one request (the chunking lives in `chunks.py`, the pull in
`pull.py`) and returns a `Matrix`: the labels of each series, and the timestamps and values of all
series as two flat numpy arrays with offsets, with no Python object per sample.

Retries (exponential backoff with jitter) cover what a second try can fix: HTTP 429 and 5xx,
time-outs, dropped connections, and answers cut short or garbled on the way. A query Prometheus
refuses (`bad_data`, `execution`) is a `PromQLError` naming the query; it is not retried.

Secrets: the token is read from the environment variable or file the customer entry names, when
the client is built, registered with `healthcheck.redact`, and only ever put in a request header;
never in a message. Redirects are followed only to the same scheme, host and port: a redirect
elsewhere is refused (`RedirectError`), so no header (``Authorization`` or a custom one) reaches
another host and no other host's data is stored as the customer's.

Bounds: each request has a total deadline (`request_deadline_seconds`, default 300 s) besides the
per-read timeout, so a server that trickles bytes cannot hold a pull; a pull may set an overall
deadline (`set_deadline`); an answer larger than `max_answer_bytes` (default 256 MiB) is refused
while it streams, before it is parsed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from healthcheck.config import PrometheusConnection
from healthcheck.errors import ConfigError, SourceError
from healthcheck.redact import redact, remember_secret, url_without_password

# Prometheus answers a query that ran longer than --query.timeout (default 2m) with 503. We ask
# it to give up sooner (`timeout` parameter) and wait a little longer ourselves, so a slow query
# ends as Prometheus's clear "query timed out" and not as a dropped connection.
QUERY_TIMEOUT_SECONDS = 90.0
CLIENT_TIMEOUT_SECONDS = 100.0
# The whole of one request, however the server paces its bytes (the timeout above is per read).
REQUEST_DEADLINE_SECONDS = 300.0
# One answer; a chunk of 11,000 points per series is ~0.3 MB per series (docs/reliability.md).
MAX_ANSWER_BYTES = 256 << 20
MAX_REDIRECTS = 5
# Above this, a query goes in a POST body: URLs are cut at 8 KiB by many proxies.
POST_ABOVE_CHARS = 1_500

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class PromQLError(SourceError):
    """Prometheus refused a query (bad_data, execution): retrying would not help."""


class TransientError(SourceError):
    """A failure a retry may fix: 429, 5xx, time-out, dropped connection, cut-short answer."""


class RedirectError(SourceError):
    """The server redirected to another host: refused, so credentials stay with the customer's."""


class DeadlineError(SourceError):
    """The pull's overall deadline passed: not retried."""


class AnswerTooLargeError(SourceError):
    """One answer exceeded the size cap: not retried (it would be as large again)."""


@dataclass(frozen=True)
class Matrix:
    """A `query_range` answer: series i has points offsets[i]:offsets[i+1] of the flat arrays."""

    labels: list[dict[str, str]]
    offsets: IntArray
    timestamps_ms: IntArray
    values: FloatArray

    @property
    def points(self) -> int:
        return int(self.values.size)


@dataclass
class ClientStats:
    """What the client sent, for the summary and the tests."""

    range_queries: int = 0
    retries: int = 0
    bytes_received: int = 0
    errors: list[str] = field(default_factory=list)


class PrometheusClient:
    """One Prometheus server. Thread-safe: the pull shares it between its workers."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        verify: bool | str = True,
        timeout_seconds: float = CLIENT_TIMEOUT_SECONDS,
        attempts: int = 5,
        backoff_seconds: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        name: str = "prometheus",
        compress: bool | None = None,
        request_deadline_seconds: float = REQUEST_DEADLINE_SECONDS,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.url = url.rstrip("/")
        headers = dict(headers or {})
        if not (compress if compress is not None else not is_loopback(self.url)):
            # On loopback (a port-forward, an SSH tunnel, the benchmark) gzip saves no time and
            # costs CPU at both ends: Prometheus compresses ~30 MB per answer, we inflate it.
            headers["Accept-Encoding"] = "identity"
        self.name = redact(name)
        self.attempts = attempts
        self.request_deadline_seconds = request_deadline_seconds
        self.max_answer_bytes = max_answer_bytes
        self.deadline: float | None = None  # time.monotonic() by which the whole pull ends
        self.deadline_seconds: float | None = None
        self.backoff_seconds = backoff_seconds
        self.stats = ClientStats()
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            verify=verify,
            timeout=httpx.Timeout(timeout_seconds, connect=10.0),
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            follow_redirects=False,  # followed by hand, same host only (`_exchange`)
        )

    @classmethod
    def from_connection(
        cls,
        connection: PrometheusConnection,
        *,
        customer: str,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> PrometheusClient:
        """A client for a customer's Prometheus, with the auth its entry names."""
        if not connection.url.startswith(("http://", "https://")):
            raise ConfigError(
                f"customer {customer!r}: prometheus.url {connection.url!r} must start with "
                "http:// or https://"
            )
        verify: bool | str = str(connection.ca_bundle) if connection.ca_bundle else True
        if connection.ca_bundle and not Path(connection.ca_bundle).expanduser().is_file():
            raise ConfigError(
                f"customer {customer!r}: prometheus.ca_bundle {connection.ca_bundle} is not a "
                "readable file: give the PEM file of the CAs to trust"
            )
        if not connection.verify_tls:
            verify = False
        return cls(
            connection.url,
            headers=auth_headers(connection, customer),
            verify=verify,
            transport=transport,
            name=f"{customer}'s Prometheus at {url_without_password(connection.url)}",
            **options,
        )

    def close(self) -> None:
        self._http.close()

    def set_deadline(self, seconds: float | None) -> None:
        """End every request (and retry) by `seconds` from now; None lifts the deadline."""
        self.deadline_seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ API calls

    def query_range(
        self, promql: str, start: int, end: int, step: int, *, name: str = "query"
    ) -> Matrix:
        """The series of `promql` at start, start+step, …, end (seconds since the epoch)."""
        params = {
            "query": promql,
            "start": str(start),
            "end": str(end),
            "step": str(step),
            "timeout": f"{QUERY_TIMEOUT_SECONDS:g}s",
        }

        def attempt() -> Matrix:
            self.stats.range_queries += 1
            body = self._send("/api/v1/query_range", params, name)
            return parse_matrix(body, name=name, promql=promql)

        result: Matrix = self._retrying(attempt)
        return result

    def query(self, promql: str, *, time: int | None = None, name: str = "query") -> Matrix:
        """An instant query; each series holds one point."""
        params = {"query": promql, "timeout": f"{QUERY_TIMEOUT_SECONDS:g}s"}
        if time is not None:
            params["time"] = str(time)
        result: Matrix = self._retrying(
            lambda: parse_vector(self._send("/api/v1/query", params, name), name=name)
        )
        return result

    def series(
        self, selectors: Sequence[str], start: int, end: int, *, name: str = "series"
    ) -> list[dict[str, str]]:
        """The label sets of the series any of `selectors` matched in [start, end]: the index
        only, no samples, so it is cheap over a quarter (a POST: the selectors can be long)."""
        form = [("match[]", selector) for selector in selectors]
        form += [("start", str(start)), ("end", str(end))]

        def attempt() -> list[dict[str, str]]:
            body = self._send("/api/v1/series", form, name)
            try:
                data = json.loads(body)["data"]
                return [{str(k): str(v) for k, v in item.items()} for item in data]
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise TransientError(f"{self.name}: malformed answer to {name}") from exc

        result: list[dict[str, str]] = self._retrying(attempt)
        return result

    def get_data(self, path: str, *, name: str | None = None) -> Any:
        """The `data` of a GET on a status endpoint such as /api/v1/status/flags."""

        def attempt() -> Any:
            body = self._send(path, None, name or path)
            try:
                return json.loads(body)["data"]
            except (ValueError, KeyError, TypeError) as exc:
                raise TransientError(f"{self.name}: malformed answer to {path}") from exc

        return self._retrying(attempt)

    # ------------------------------------------------------------------ transport

    def _retrying(self, attempt: Callable[[], Any]) -> Any:
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.attempts) | _StopAtDeadline(self),
            wait=wait_random_exponential(multiplier=self.backoff_seconds, max=30),
            before_sleep=self._count_retry,
            reraise=True,
        )
        return retrying(attempt)

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1

    def _request_deadline(self, name: str) -> float:
        """The monotonic time this request must end by; `DeadlineError` if the pull's passed."""
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            raise DeadlineError(
                f"{self.name}: the pull did not finish within its deadline of "
                f"{self.deadline_seconds:g} s (--deadline); stopped at {name}; what was "
                "fetched whole is stored, and a rerun fetches the rest"
            )
        end = now + self.request_deadline_seconds
        return end if self.deadline is None else min(end, self.deadline)

    def _send(
        self, path: str, params: dict[str, str] | list[tuple[str, str]] | None, name: str
    ) -> bytes:
        deadline = self._request_deadline(name)
        try:
            if isinstance(params, list):  # a form with repeated keys
                request = self._http.build_request(
                    "POST",
                    path,
                    content=urlencode(params).encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            elif params is not None and len(params.get("query", "")) > POST_ABOVE_CHARS:
                request = self._http.build_request("POST", path, data=params)
            else:
                request = self._http.build_request("GET", path, params=params)
            response, body = self._exchange(request, name, deadline)
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"{self.name} did not answer {name} in time ({type(exc).__name__})"
            ) from exc
        except httpx.RequestError as exc:  # refused, reset, cut short, undecodable
            raise TransientError(
                f"cannot reach {self.name} for {name}: {type(exc).__name__}: {exc}"
            ) from exc
        self.stats.bytes_received += len(body)
        if response.status_code == 200:
            return body
        raise self._http_error(response.status_code, body, name, params)

    def _exchange(
        self, request: httpx.Request, name: str, deadline: float
    ) -> tuple[httpx.Response, bytes]:
        """Send `request`, following same-host redirects; read the body within the deadline
        and the size cap."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._http.send(request, stream=True)
            try:
                if response.is_redirect:
                    request = self._redirected(request, response, name)
                    continue
                return response, self._read_body(response, name, deadline)
            finally:
                response.close()
        raise SourceError(f"{self.name}: more than {MAX_REDIRECTS} redirects for {name}")

    def _redirected(
        self, request: httpx.Request, response: httpx.Response, name: str
    ) -> httpx.Request:
        target = request.url.join(response.headers.get("location", ""))
        here = (request.url.scheme, request.url.host, request.url.port)
        if (target.scheme, target.host, target.port) != here:
            shown = url_without_password(str(target.copy_with(query=None)))
            raise RedirectError(
                f"{self.name} redirected {name} to another host ({shown}); refused, so no "
                "credential or data crosses hosts: set prometheus.url to the address that "
                "answers"
            )
        method = "GET" if response.status_code == 303 else request.method
        return self._http.build_request(
            method,
            target,
            headers=request.headers,
            content=request.content if method != "GET" else None,
        )

    def _read_body(self, response: httpx.Response, name: str, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_answer_bytes:
            raise self._too_large(name)
        parts: list[bytes] = []
        size = 0
        for part in response.iter_bytes():
            size += len(part)
            if size > self.max_answer_bytes:
                raise self._too_large(name)
            parts.append(part)
            if time.monotonic() > deadline:
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    self._request_deadline(name)  # raises the pull's DeadlineError
                raise TransientError(
                    f"{self.name} did not finish answering {name} within "
                    f"{self.request_deadline_seconds:g} s (--request-deadline)"
                )
        return b"".join(parts)

    def _too_large(self, name: str) -> AnswerTooLargeError:
        return AnswerTooLargeError(
            f"{self.name}: the answer to {name} is larger than {self.max_answer_bytes:,} bytes "
            "(--max-answer-bytes); fetch fewer points per request (--chunk-points) or raise "
            "the limit"
        )

    def _http_error(
        self,
        status: int,
        body: bytes,
        name: str,
        params: dict[str, str] | list[tuple[str, str]] | None,
    ) -> SourceError:
        detail = _error_detail(body)
        if isinstance(params, list):
            params = {"query": " or ".join(v for k, v in params if k == "match[]")}
        if status in (401, 403):
            return SourceError(
                f"{self.name} refused {name} with HTTP {status}: check the token or credentials "
                "named in customers.yaml (prometheus.auth) and their rights"
            )
        if status == 429 or status >= 500:
            return TransientError(f"{self.name} answered {name} with HTTP {status}: {detail}")
        if status in (400, 422) and params is not None:
            return PromQLError(
                f"{self.name} refused {name} (HTTP {status}, {detail}); "
                f"query: {params.get('query', '')}"
                + (
                    "; fetch fewer points per request (--chunk-points) or a larger step"
                    if "too many" in detail or "exceeded" in detail
                    else ""
                )
            )
        return SourceError(f"{self.name} answered {name} with HTTP {status}: {detail}")


class _StopAtDeadline(stop_base):
    """No retry once the client's pull deadline has passed."""

    def __init__(self, client: PrometheusClient) -> None:
        self.client = client

    def __call__(self, retry_state: RetryCallState) -> bool:
        deadline = self.client.deadline
        return deadline is not None and time.monotonic() >= deadline


def is_loopback(url: str) -> bool:
    """Whether the URL names this machine (localhost, 127.0.0.0/8, ::1)."""
    host = httpx.URL(url).host
    return host == "localhost" or host.startswith("127.") or host == "::1"


def auth_headers(connection: PrometheusConnection, customer: str) -> dict[str, str]:
    """The request headers for the entry's auth; the secret is read now and kept nowhere else."""
    auth = connection.auth
    if auth.kind == "none":
        return {}
    secret = _read_secret(auth.token_env, auth.token_file, customer)
    if auth.kind == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    if auth.kind == "basic":
        if not auth.username:
            raise ConfigError(
                f"customer {customer!r}: prometheus.auth kind basic needs a username "
                "(the password comes from token_env or token_file)"
            )
        pair = base64.b64encode(f"{auth.username}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    if not auth.header:
        raise ConfigError(
            f"customer {customer!r}: prometheus.auth kind header needs `header` "
            "(the header's name; its value comes from token_env or token_file)"
        )
    return {auth.header: secret}


def _read_secret(env: str | None, path: Path | None, customer: str) -> str:
    if env:
        value = os.environ.get(env, "")
        if not value:
            raise ConfigError(
                f"customer {customer!r}: environment variable {env} (prometheus.auth.token_env) "
                "is not set or empty: export it before pulling"
            )
        remember_secret(value)
        return value.strip()
    if path:
        try:
            value = Path(path).expanduser().read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"customer {customer!r}: cannot read secrets file {path} "
                f"(prometheus.auth.token_file): {exc.strerror}"
            ) from exc
        if not value:
            raise ConfigError(f"customer {customer!r}: secrets file {path} is empty")
        remember_secret(value)
        return value
    raise ConfigError(
        f"customer {customer!r}: prometheus.auth needs token_env or token_file for its secret"
    )


def _error_detail(body: bytes) -> str:
    """The server's reason, short, one line, with any secret it echoed removed."""
    try:
        payload = json.loads(body)
        text = f"{payload.get('errorType', 'error')}: {payload.get('error', '')}"[:500]
    except (ValueError, AttributeError):
        text = body[:200].decode("utf-8", "replace").strip() or "empty answer"
    return redact(" ".join(text.split()))


# ---------------------------------------------------------------------- parsing

_MATRIX_HEAD = b'{"status":"success","data":{"resultType":"matrix","result":['
_SERIES_HEAD = b'{"metric":'
_VALUES_KEY = b'"values":['
_TAIL = re.compile(rb'\]\}(,"warnings":\[.*\])?\}\s*$', re.DOTALL)
# `[1700000000,"1.5"],[…]` becomes the CSV `1700000000,1.5\n…`, parsed by Arrow's C++ reader
# (4x numpy.fromstring, 5x json.loads on the same text; see docs/performance.md). No null
# values: Prometheus writes NaN as "NaN", which Arrow reads as a float.
_CSV_READ = pacsv.ReadOptions(column_names=["t", "v"], use_threads=False)
_CSV_CONVERT = pacsv.ConvertOptions(
    column_types={"t": pa.float64(), "v": pa.float64()}, null_values=[], strings_can_be_null=False
)


def parse_matrix(body: bytes, *, name: str = "query", promql: str = "") -> Matrix:
    """Parse a `query_range` answer without a Python object per sample.

    Prometheus writes the answer in a fixed layout; its `values` arrays hold only numbers and
    quoted numbers, so each is located by bytes, and all of them are read by one CSV parse. An
    answer in another layout (a proxy that re-encodes JSON) takes the slower, general path.
    Anything cut short or garbled is a `TransientError`: a retry fetches it again.
    """
    if not body.startswith(_MATRIX_HEAD):
        return _parse_matrix_general(body, name)
    labels: list[dict[str, str]] = []
    rows: list[int] = []
    lines: list[bytes] = []
    position = len(_MATRIX_HEAD)
    while body.startswith(_SERIES_HEAD, position):
        values_at = body.find(_VALUES_KEY, position)
        close = body.find(b"]]}", values_at)
        if values_at < 0 or close < 0:
            raise _garbled(name)
        try:
            labels.append(json.loads(body[position + len(_SERIES_HEAD) : values_at - 1]))
        except ValueError as exc:
            raise _garbled(name) from exc
        text = body[values_at + len(_VALUES_KEY) : close + 1]
        rows.append(_check_pairs(text, name))
        lines.append(text[1:-1].replace(b"],[", b"\n").replace(b'"', b""))
        position = close + 3
        if body.startswith(b",", position):
            position += 1
    if not _TAIL.match(body, position):
        raise _garbled(name)
    return _assemble_csv(labels, rows, lines, name)


def _check_pairs(text: bytes, name: str) -> int:
    """The number of `[t,"v"]` pairs in `text`, after checking every bracket, quote and comma
    stands where the layout puts it (the CSV conversion would otherwise hide a stray one)."""
    pairs = text.count(b"],[") + 1
    if (
        not text.startswith(b"[")
        or not text.endswith(b"]")
        or text.count(b"[") != pairs
        or text.count(b"]") != pairs
        or text.count(b'"') != 2 * pairs
        or text.count(b",") != 2 * pairs - 1
    ):
        raise _garbled(name)
    return pairs


def _assemble_csv(
    labels: list[dict[str, str]], rows: list[int], lines: list[bytes], name: str
) -> Matrix:
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.asarray(rows, dtype=np.int64), out=offsets[1:])
    if not lines:
        empty = np.empty(0, dtype=np.float64)
        return Matrix(labels, offsets, empty.astype(np.int64), empty)
    try:
        table = pacsv.read_csv(
            pa.py_buffer(b"\n".join(lines)),
            read_options=_CSV_READ,
            convert_options=_CSV_CONVERT,
        )
    except pa.ArrowInvalid as exc:
        raise _garbled(name) from exc
    if table.num_rows != offsets[-1]:
        raise _garbled(name)
    seconds = table.column("t").to_numpy()
    values = np.ascontiguousarray(table.column("v").to_numpy(), dtype=np.float64)
    return Matrix(labels, offsets, np.rint(seconds * 1000).astype(np.int64), values)


def _assemble(labels: list[dict[str, str]], parts: list[FloatArray]) -> Matrix:
    sizes = np.fromiter((p.size // 2 for p in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    flat = np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)
    timestamps_ms = np.rint(flat[0::2] * 1000).astype(np.int64)
    return Matrix(labels, offsets, timestamps_ms, np.ascontiguousarray(flat[1::2]))


def _parse_matrix_general(body: bytes, name: str) -> Matrix:
    return _parse_series(body, name, "values")


def parse_vector(body: bytes, *, name: str = "query") -> Matrix:
    """An instant query's answer (small: one point per series) as a `Matrix`."""
    return _parse_series(body, name, "value")


def _parse_series(body: bytes, name: str, key: str) -> Matrix:
    """The general path: any JSON layout, every shape checked (a wrong one is `_garbled`)."""
    payload = _json(body, name)
    data = payload.get("data")
    result = data.get("result") if isinstance(data, dict) else None
    if payload.get("status") != "success" or not isinstance(result, list):
        raise _garbled(name)
    labels: list[dict[str, str]] = []
    parts: list[FloatArray] = []
    for series in result:
        metric = series.get("metric", {}) if isinstance(series, dict) else None
        if not isinstance(metric, dict):
            raise _garbled(name)
        try:
            pairs = np.asarray(series.get(key, []), dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise _garbled(name) from exc
        if key == "value":
            pairs = pairs.reshape(1, -1) if pairs.size else pairs.reshape(0, 2)
        if pairs.size and (pairs.ndim != 2 or pairs.shape[1] != 2):
            raise _garbled(name)
        labels.append({str(k): str(v) for k, v in metric.items()})
        parts.append(pairs.reshape(-1))
    return _assemble(labels, parts)


def _json(body: bytes, name: str) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise _garbled(name) from exc
    if not isinstance(payload, dict):
        raise _garbled(name)
    return payload


def _garbled(name: str) -> TransientError:
    return TransientError(
        f"the answer to {name} was cut short or is not valid JSON, or is not shaped as "
        "Prometheus's API answers"
    )
