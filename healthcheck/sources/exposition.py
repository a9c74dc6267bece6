"""Prometheus exposition text with timestamps, read as a stream: the reading half of import.

Three shapes of sample line, told apart by content, never by the file's name:

- **OpenMetrics**: ``name{a="x",b="y"} value seconds``, ``# EOF`` last; what
  ``promtool tsdb dump-openmetrics`` writes (newer Prometheus releases).
- **Prometheus text format**: ``name{a="x"} value milliseconds``, no ``# EOF``.
- **promtool tsdb dump**: ``{__name__="name", a="x"} value milliseconds``: the name inside the
  braces, a space after each comma; the only dump command of Prometheus 2.42 (Debian's
  package) and older.

The file comes in as blocks of bytes (a quarter's dump is gigabytes, maybe gzip-compressed) and
is read a block of whole lines at a time with Arrow (each line one string; the series, value
and timestamp split from the right, so label values may hold spaces), so memory stays flat as
the file grows: what is kept between blocks is one entry per distinct series. Every sample
comes with its line number, and every problem names its line.

The unit of the timestamps is taken from the first sample (seconds and milliseconds of the
years 2000-2100 do not overlap) and checked against the file at its end: seconds if and only
if the file ends with ``# EOF``. NaN values are dropped and counted: Prometheus writes a NaN
(its staleness marker) where a series ended, and dumps copy them; a gap is no sample.
Infinities, samples without a timestamp and times outside 2000-2100 are refused.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from healthcheck.errors import SourceError

__all__ = ["BLOCK_BYTES", "Block", "ExpositionKind", "ExpositionReader", "Series"]

ExpositionKind = Literal["openmetrics", "prometheus-text", "promtool-dump"]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Codes = npt.NDArray[np.int32]

BLOCK_BYTES = 16 << 20  # lines are read this many bytes at a time
MAX_LINE_BYTES = 1 << 20  # a sample line is a few hundred bytes; a megabyte is not a line
_EARLIEST = pd.Timestamp("2000-01-01", tz="UTC").value
_LATEST = pd.Timestamp("2100-01-01", tz="UTC").value
_SECONDS_BELOW = 1e11  # a timestamp under this is seconds (1e11 ms is 1973, 1e11 s year 5138)
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_EXEMPLAR = r' # \{(?:[^"}]|"(?:[^"\\]|\\.)*")*\} \S+(?: \S+)?$'


@dataclass(frozen=True)
class Series:
    """One distinct series of the file."""

    key: str  # as first written, e.g. 'name{a="x"}' or '{__name__="name", a="x"}'
    name: str
    labels: dict[str, str]
    line: int  # where it first appears


@dataclass(frozen=True)
class Block:
    """The samples of one block of lines; codes index `ExpositionReader.series`."""

    codes: Codes
    nanoseconds: Ints
    values: Floats
    lines: Ints  # the line of each sample
    new: range  # the series codes first seen in this block


@dataclass
class _First:
    """The first sample of the file: the unit of every timestamp is taken from it."""

    line: int
    stamp: float
    seconds: bool


@dataclass
class ExpositionReader:
    """Reads exposition text block by block; iterate `blocks()` once, then read `kind`.

    `chunks` yields the (decompressed) bytes of the file in any sizes; they are cut into
    blocks of about `block_bytes` of whole lines.
    """

    path: Path
    chunks: Iterable[bytes]
    block_bytes: int = BLOCK_BYTES
    max_line_bytes: int = MAX_LINE_BYTES  # one line longer than this refuses the file
    series: list[Series] = field(default_factory=list)
    nan_samples: int = 0  # NaN values dropped (staleness markers)
    samples: int = 0
    _codes: dict[str, int] = field(default_factory=dict)  # key as written -> code
    _identities: dict[tuple[str, tuple[tuple[str, str], ...]], int] = field(default_factory=dict)
    _first: _First | None = None
    _eof_line: int = 0  # the line of "# EOF", once seen
    _lines_read: int = 0
    _format: ExpositionKind | None = None
    _done: bool = False

    @property
    def kind(self) -> ExpositionKind:
        """The format, known once every block has been read."""
        if not self._done or self._format is None:
            raise RuntimeError("the kind is known once every block has been read")
        return self._format

    def blocks(self) -> Iterator[Block]:
        """Each block's samples, in file order; raise `SourceError` naming the line."""
        for text in _whole_lines(self.chunks, self.block_bytes, self._line_too_long):
            block = self._read_block(text)
            if block is not None:
                yield block
        self._finish()

    # ------------------------------------------------------------------ one block

    def _line_too_long(self, pending_bytes: int) -> None:
        """Bytes without a newline past the limit: not a line (a binary file, /dev/zero)."""
        if pending_bytes > max(self.max_line_bytes, self.block_bytes) + self.block_bytes:
            raise SourceError(
                f"{self.path}: after line {self._lines_read}: more than "
                f"{self.max_line_bytes:,} bytes without a line break (not exposition text?); "
                "nothing was imported"
            )

    def _read_block(self, text: bytes) -> Block | None:
        first_line = self._lines_read + 1
        lines = _lines(self.path, text, first_line)
        self._lines_read += len(lines)
        stripped = pc.utf8_trim_whitespace(lines)
        is_comment = pc.starts_with(stripped, "#").to_numpy(zero_copy_only=False)
        is_empty = pc.equal(pc.utf8_length(stripped), 0).to_numpy(zero_copy_only=False)
        self._check_eof(stripped, is_comment, is_empty, first_line)

        rows = np.flatnonzero(~is_comment & ~is_empty)
        if rows.size == 0:
            return None
        line_numbers = rows.astype(np.int64) + first_line
        samples = pc.take(stripped, pa.array(rows))
        if pc.any(pc.match_substring(samples, " # ")).as_py():
            # drop OpenMetrics exemplars: " # {…} value [time]"
            samples = pc.replace_substring_regex(samples, pattern=_EXEMPLAR, replacement="")
        parts = pc.split_pattern(samples, " ", max_splits=2, reverse=True)
        lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
        short = np.flatnonzero(lengths < 3)
        if short.size:
            row = int(short[0])
            _diagnose(self.path, int(line_numbers[row]), str(samples[row].as_py()))

        values = self._numbers(pc.list_element(parts, 1), line_numbers, samples, "value")
        stamps = self._numbers(pc.list_element(parts, 2), line_numbers, samples, "timestamp")
        infinite = np.isinf(values)
        if infinite.any():
            row = int(np.argmax(infinite))
            shown = str(samples[row].as_py()).rsplit(" ", 2)[1]
            raise SourceError(
                f"{self.path}: line {line_numbers[row]}: value {shown} is not a finite number "
                "(infinities are refused)"
            )
        nanoseconds = self._nanoseconds(stamps, line_numbers, samples)
        codes, new = self._encode(pc.list_element(parts, 0), line_numbers)

        stale = np.isnan(values)
        if stale.any():
            self.nan_samples += int(stale.sum())
            fresh = ~stale
            codes, nanoseconds = codes[fresh], nanoseconds[fresh]
            values, line_numbers = values[fresh], line_numbers[fresh]
        self.samples += len(codes)
        return Block(codes, nanoseconds, values, line_numbers, new)

    def _check_eof(
        self,
        stripped: pa.StringArray,
        is_comment: npt.NDArray[np.bool_],
        is_empty: npt.NDArray[np.bool_],
        first_line: int,
    ) -> None:
        """Nothing but blank lines may follow ``# EOF``."""
        if self._eof_line:
            after = np.flatnonzero(~is_empty)
        else:
            if not is_comment.any():
                return
            eof = np.flatnonzero(pc.equal(stripped, "# EOF").to_numpy(zero_copy_only=False))
            if eof.size == 0:
                return
            self._eof_line = int(eof[0]) + first_line
            after = np.flatnonzero(~is_empty[eof[0] + 1 :]) + eof[0] + 1
        if after.size:
            raise SourceError(
                f"{self.path}: line {int(after[0]) + first_line}: content after '# EOF' "
                f"(line {self._eof_line})"
            )

    def _numbers(
        self, column: pa.Array, line_numbers: Ints, samples: pa.StringArray, what: str
    ) -> Floats:
        try:
            return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False))
        except pa.ArrowInvalid:
            texts = column.to_pylist()  # the error path only: find the first bad one
            row = next(i for i, t in enumerate(texts) if not _is_number(t))
            line = int(line_numbers[row])
            _diagnose(self.path, line, str(samples[row].as_py()))
            raise SourceError(
                f"{self.path}: line {line}: {what} {_clip(str(texts[row]))} is not a number"
            ) from None

    def _nanoseconds(self, stamps: Floats, line_numbers: Ints, samples: pa.StringArray) -> Ints:
        """Seconds or milliseconds, as the file's first sample says; whole milliseconds kept."""
        if self._first is None:
            stamp = float(stamps[0])
            self._first = _First(int(line_numbers[0]), stamp, abs(stamp) < _SECONDS_BELOW)
            key = str(samples[0].as_py())
            self._format = "promtool-dump" if key.startswith("{") else None
        seconds = self._first.seconds
        with np.errstate(invalid="ignore"):
            milliseconds = np.round(stamps * (1000.0 if seconds else 1.0))
            nanoseconds = (
                np.nan_to_num(milliseconds, nan=-1.0, posinf=-1.0, neginf=-1.0).astype(np.int64)
                * 1_000_000
            )
        bad = (nanoseconds < _EARLIEST) | (nanoseconds >= _LATEST) | ~np.isfinite(stamps)
        if bad.any():
            row = int(np.argmax(bad))
            unit = "seconds (OpenMetrics" if seconds else "milliseconds (Prometheus text format"
            raise SourceError(
                f"{self.path}: line {line_numbers[row]}: timestamp {stamps[row]:.17g} read as "
                f"{unit}, as the first sample at line {self._first.line}) is not a time between "
                "2000 and 2100"
            )
        return nanoseconds

    def _encode(self, keys: pa.StringArray, line_numbers: Ints) -> tuple[Codes, range]:
        """The series code of each sample; series not seen before are parsed and numbered."""
        encoded = pc.dictionary_encode(keys)
        local = encoded.indices.to_numpy(zero_copy_only=False)
        distinct = encoded.dictionary.to_pylist()
        known = len(self.series)
        table = np.empty(len(distinct), dtype=np.int32)
        first_rows: Ints | None = None
        for index, key in enumerate(distinct):
            code = self._codes.get(key)
            if code is None:
                if first_rows is None:
                    first_rows = _first_occurrence(local, len(distinct))
                code = self._add(key, int(line_numbers[first_rows[index]]))
            table[index] = code
        return table[local], range(known, len(self.series))

    def _add(self, key: str, line: int) -> int:
        name, labels = _parse_series_key(self.path, key, line)
        identity = (name, tuple(sorted(labels.items())))
        code = self._identities.get(identity)
        if code is None:  # the same series written another way is the same series
            code = len(self.series)
            self._identities[identity] = code
            self.series.append(Series(key, name, labels, line))
        self._codes[key] = code
        return code

    # ------------------------------------------------------------------ the end

    def _finish(self) -> None:
        self._done = True
        first = self._first
        if first is None:
            raise SourceError(f"{self.path}: no samples, only comments")
        ends_with_eof = bool(self._eof_line)
        if first.seconds and not ends_with_eof:
            raise SourceError(
                f"{self.path}: line {first.line}: timestamp {first.stamp:.17g} read as "
                "milliseconds (Prometheus text format: no # EOF) is not a time between 2000 and "
                "2100; if the file is OpenMetrics, its last line '# EOF' is missing (a cut file?)"
            )
        if not first.seconds and ends_with_eof:
            raise SourceError(
                f"{self.path}: line {first.line}: timestamp {first.stamp:.17g} read as seconds "
                "(OpenMetrics: the file ends with # EOF) is not a time between 2000 and 2100"
            )
        if self._format is None:
            self._format = "openmetrics" if ends_with_eof else "prometheus-text"


def _whole_lines(
    chunks: Iterable[bytes], block_bytes: int, too_long: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The bytes regrouped into blocks of about `block_bytes`, each ending at a line's end.
    `too_long(length)` is called (and should raise) when a line outgrows the reader's limit."""
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size < block_bytes:
            continue
        data = b"".join(pending)
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # one line longer than a block: keep reading
            if too_long is not None:
                too_long(len(data))
            pending, size = [data], len(data)
            continue
        yield data[:cut]
        rest = data[cut:]
        pending, size = ([rest] if rest else []), len(rest)
    data = b"".join(pending)
    if data:
        yield data


def _lines(path: Path, text: bytes, first_line: int) -> pa.StringArray:
    """Every line of the block as one Arrow string (line first_line + n at index n)."""
    try:
        table = pcsv.read_csv(
            io.BytesIO(text),
            read_options=pcsv.ReadOptions(
                column_names=["line"], block_size=max(1 << 20, len(text) + 1), use_threads=False
            ),
            parse_options=pcsv.ParseOptions(
                delimiter="\x1f",  # a byte that never occurs in exposition text
                quote_char=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={"line": pa.string()},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        where = ""
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as bad:
            line = first_line + text.count(b"\n", 0, bad.start)
            where = f"line {line}: "
        raise SourceError(
            f"{path}: {where}not exposition text (nor a canonical CSV or Parquet file): "
            f"{' '.join(str(exc).split())[:200]}"
        ) from None
    return table.column("line").combine_chunks()


def _first_occurrence(codes: npt.NDArray[np.int32], count: int) -> Ints:
    first = np.full(count, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
    return first


def _diagnose(path: Path, line: int, content: str) -> None:
    """Raise the precise problem of one line, read carefully (label values may hold spaces)."""
    content = content.strip()
    series, fields = _split_sample(content)
    if series is None or not _looks_like_series(series):
        fields = []
    if len(fields) == 1 and _is_number(fields[0]):
        raise SourceError(
            f"{path}: line {line}: sample without a timestamp: {_clip(content)}; import "
            "needs timestamps (export with `promtool tsdb dump-openmetrics` or "
            "`healthcheck export`, not a /metrics scrape)"
        )
    if len(fields) == 2:
        for what, value in zip(("value", "timestamp"), fields, strict=True):
            if not _is_number(value):
                raise SourceError(f"{path}: line {line}: {what} {_clip(value)} is not a number")
        return
    raise SourceError(
        f"{path}: line {line}: not a sample line (series value timestamp): {_clip(content)}"
    )


def _split_sample(content: str) -> tuple[str | None, list[str]]:
    """The series part (through the closing brace, quotes respected) and the fields after."""
    brace = content.find("{")
    space = content.find(" ")
    if brace == -1 or (space != -1 and space < brace):
        name, _, rest = content.partition(" ")
        return name, rest.split()
    quoted, escaped = False, False
    for position in range(brace, len(content)):
        char = content[position]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "}" and not quoted:
            return content[: position + 1], content[position + 1 :].split()
    return None, []


def _parse_series_key(path: Path, key: str, line: int) -> tuple[str, dict[str, str]]:
    """``name{a="x",b="y"}`` (or promtool's ``{__name__="name", a="x"}``) into its name and
    labels (escapes undone)."""
    name, brace, rest = key.partition("{")
    labels: dict[str, str] = {}
    if brace:
        if not rest.endswith("}"):
            raise SourceError(f"{path}: line {line}: malformed labels in {_clip(key)}")
        body, position = rest[:-1], 0
        while position < len(body.rstrip()):
            match = _LABEL.match(body, position)
            if match is None or match.end() == position:
                raise SourceError(f"{path}: line {line}: malformed labels in {_clip(key)}")
            labels[match.group(1)] = _unescape(match.group(2))
            position = match.end()
    if not name and "__name__" in labels:
        name = labels.pop("__name__")
    if not _METRIC_NAME.match(name):
        raise SourceError(f"{path}: line {line}: invalid metric name {_clip(name)}")
    return name, labels


def _unescape(value: str) -> str:
    """The escapes of the text format (backslash, quote, newline) and of Go's strconv.Quote,
    which promtool's dump uses (tab, \\xHH, \\uHHHH, ...)."""
    if "\\" not in value:
        return value

    def one(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if len(escaped) > 1:
            return chr(int(escaped[1:], 16))
        return _ESCAPES.get(escaped, escaped)

    return _ESCAPE.sub(one, value)


def _is_number(text: str | None) -> bool:
    try:
        float(text or "")
    except ValueError:
        return False
    return True


def _looks_like_series(text: str) -> bool:
    name = text.partition("{")[0]
    if not name and text.startswith('{__name__="'):  # promtool's dump
        return text.endswith("}")
    return bool(_METRIC_NAME.match(name)) and (("{" in text) == text.endswith("}"))


def _clip(text: str) -> str:
    return repr(text if len(text) <= 120 else text[:117] + "...")
