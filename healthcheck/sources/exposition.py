"""Prometheus exposition text with timestamps, parsed into arrays: the reading half of import.

Two readers give the same `Samples`. `parse_fast` takes one pass of Arrow's CSV reader with a
space as delimiter, dictionary-encoding the series keys while reading and parsing values and
timestamps in C++, so a large file makes no Python object per sample. `parse_carefully` reads
line by line (still in Arrow) so every problem is reported with its line; `parse_exposition`
uses it whenever the fast reader has any doubt about a file.

OpenMetrics (``# EOF`` last) counts timestamps in seconds, the Prometheus text format in
milliseconds. NaN and infinite values, samples without a timestamp, and times outside
2000-2100 are refused, naming the line.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from healthcheck.errors import SourceError

__all__ = ["ExpositionKind", "Samples", "parse_carefully", "parse_exposition", "parse_fast"]

ExpositionKind = Literal["openmetrics", "prometheus-text"]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

_EARLIEST = pd.Timestamp("2000-01-01", tz="UTC").value
_LATEST = pd.Timestamp("2100-01-01", tz="UTC").value
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_ESCAPE = re.compile(r"\\(.)")
_EXEMPLAR = r' # \{(?:[^"}]|"(?:[^"\\]|\\.)*")*\} \S+(?: \S+)?$'


@dataclass
class Samples:
    """Parsed exposition samples: one entry per series, arrays per sample."""

    path: Path
    data: bytes
    kind: ExpositionKind
    keys: list[str]  # each series as written, e.g. 'name{a="x"}', by series code
    series: list[tuple[str, dict[str, str]]]  # (sample name, labels) per series code
    codes: npt.NDArray[np.int32]  # series code of each sample
    nanoseconds: Ints
    values: Floats
    first_lines: Ints | None = None  # the first line of each series, when the parser knew it

    def line_of(self, code: int) -> int:
        """The first line of a series, for messages (searched for when not known)."""
        if self.first_lines is not None:
            return int(self.first_lines[code])
        key = (self.keys[code] + " ").encode()
        if self.data.startswith(key):
            return 1
        found = self.data.find(b"\n" + key)
        return self.data.count(b"\n", 0, found) + 2 if found >= 0 else 0


def parse_exposition(path: Path, data: bytes) -> Samples:
    """The fast reading when the file is clean, else the careful one that names the line."""
    return parse_fast(path, data) or parse_carefully(path, data)


def parse_fast(path: Path, data: bytes) -> Samples | None:
    """One pass of Arrow's CSV reader with a space as delimiter: series keys are dictionary-
    encoded while read and values and timestamps parsed to float64 in C++, so no Python object
    is made per sample. Lines it cannot split in three (comments, label values with spaces,
    exemplars) come back one by one: comments are dropped, the few others read in Python.
    Anything doubtful (a line that is not a sample, NaN, a time out of range, content after
    # EOF) returns None: the careful parser then finds the line and says what is wrong.
    """
    kind = _kind_from_tail(data)
    if kind is None:
        return None
    odd: list[str] = []

    def on_invalid_row(row: Any) -> str:
        text = str(row.text).strip()
        if text and not text.startswith("#"):
            odd.append(text)
        return "skip"

    try:
        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(
                column_names=["series", "value", "timestamp"], block_size=1 << 22
            ),
            parse_options=pcsv.ParseOptions(
                delimiter=" ",
                quote_char=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=True,
                invalid_row_handler=on_invalid_row,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={
                    "series": pa.dictionary(pa.int32(), pa.string()),
                    "value": pa.float64(),
                    "timestamp": pa.float64(),
                },
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        ).unify_dictionaries()
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    column = table.column("series")
    keys: dict[str, int] = {
        k: i for i, k in enumerate(column.chunk(0).dictionary.to_pylist() if column.chunks else [])
    }
    codes = [c.indices.to_numpy(zero_copy_only=False) for c in column.chunks]
    values = [table.column("value").to_numpy()]
    stamps = [table.column("timestamp").to_numpy()]
    if odd:
        extra = _read_odd_lines(odd, keys)
        if extra is None:
            return None
        codes.append(extra[0])
        values.append(extra[1])
        stamps.append(extra[2])
    all_codes = np.concatenate(codes).astype(np.int32)
    all_values = np.concatenate(values).astype(np.float64)
    all_stamps = np.concatenate(stamps).astype(np.float64)
    if all_codes.size == 0 or not np.isfinite(all_values).all():
        return None
    nanoseconds = _nanoseconds(all_stamps, kind)
    if ((nanoseconds < _EARLIEST) | (nanoseconds >= _LATEST)).any():
        return None
    try:
        series = [_parse_series_key(path, key, 0) for key in keys]
    except SourceError:
        return None
    return Samples(path, data, kind, list(keys), series, all_codes, nanoseconds, all_values)


def _kind_from_tail(data: bytes) -> ExpositionKind | None:
    """OpenMetrics when the last line is ``# EOF``; None when ``# EOF`` is anywhere else."""
    tail = data[-256:].rstrip()
    if tail.endswith(b"\n# EOF") or tail == b"# EOF":
        if data.count(b"# EOF") == 1:
            return "openmetrics"
        return None
    return None if b"# EOF" in data else "prometheus-text"


def _read_odd_lines(lines: list[str], keys: dict[str, int]) -> tuple[Ints, Floats, Floats] | None:
    """Samples whose label values hold spaces (or that carry an exemplar), read one by one."""
    codes, values, stamps = [], [], []
    for text in lines:
        series, fields = _split_sample(text)
        if "#" in fields:  # an OpenMetrics exemplar follows the timestamp
            fields = fields[: fields.index("#")]
        if series is None or len(fields) != 2 or not all(_is_number(f) for f in fields):
            return None
        codes.append(keys.setdefault(series, len(keys)))
        values.append(float(fields[0]))
        stamps.append(float(fields[1]))
    return np.array(codes, dtype=np.int64), np.array(values), np.array(stamps)


def parse_carefully(path: Path, data: bytes) -> Samples:
    """Line by line with Arrow (each line one string), so every problem has its line number;
    only the distinct series keys are parsed in Python."""
    lines = _lines(path, data)
    stripped = pc.utf8_trim_whitespace(lines)
    is_comment = pc.starts_with(stripped, "#").to_numpy(zero_copy_only=False)
    is_empty = pc.equal(pc.utf8_length(stripped), 0).to_numpy(zero_copy_only=False)
    kind = _exposition_kind(path, stripped, is_comment, is_empty)

    sample_rows = np.flatnonzero(~is_comment & ~is_empty)
    if sample_rows.size == 0:
        raise SourceError(f"{path}: no samples, only comments")
    samples = pc.replace_substring_regex(  # drop OpenMetrics exemplars: " # {…} value [time]"
        pc.take(stripped, pa.array(sample_rows)), pattern=_EXEMPLAR, replacement=""
    )
    parts = pc.split_pattern(samples, " ", max_splits=2, reverse=True)
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    _refuse_short_lines(path, sample_rows[lengths < 3], lines)

    line_numbers = sample_rows.astype(np.int64) + 1
    values = _numbers(path, pc.list_element(parts, 1), line_numbers, lines, "value")
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        shown = str(lines[int(sample_rows[row])].as_py()).strip().rsplit(" ", 2)[1]
        raise SourceError(
            f"{path}: line {line_numbers[row]}: value {shown} is not a finite number "
            "(NaN and infinities are refused: a gap is no sample)"
        )
    stamps = _numbers(path, pc.list_element(parts, 2), line_numbers, lines, "timestamp")
    nanoseconds = _to_nanoseconds(path, stamps, kind, line_numbers)

    encoded = pc.dictionary_encode(pc.list_element(parts, 0))
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    keys = encoded.dictionary.to_pylist()
    first_rows = _first_occurrence(codes, len(keys))
    series = [
        _parse_series_key(path, key, int(line_numbers[row]))
        for key, row in zip(keys, first_rows, strict=True)
    ]
    return Samples(
        path, data, kind, keys, series, codes, nanoseconds, values, line_numbers[first_rows]
    )


def _lines(path: Path, data: bytes) -> pa.StringArray:
    """Every line of the file as one Arrow string array (line n at index n - 1)."""
    try:
        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=["line"], block_size=1 << 24),
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
        raise SourceError(
            f"{path}: not exposition text (nor a canonical CSV or Parquet file): "
            f"{' '.join(str(exc).split())[:200]}"
        ) from None
    return table.column("line").combine_chunks()


def _exposition_kind(
    path: Path,
    stripped: pa.StringArray,
    is_comment: npt.NDArray[np.bool_],
    is_empty: npt.NDArray[np.bool_],
) -> ExpositionKind:
    """OpenMetrics when ``# EOF`` ends the file (nothing but blank lines after it)."""
    eof = np.flatnonzero(pc.equal(stripped, "# EOF").to_numpy(zero_copy_only=False))
    if eof.size == 0:
        return "prometheus-text"
    after = np.flatnonzero(~is_empty[eof[0] + 1 :])
    if after.size:
        line = int(eof[0] + 2 + after[0])
        raise SourceError(f"{path}: line {line}: content after '# EOF' (line {eof[0] + 1})")
    return "openmetrics"


def _refuse_short_lines(path: Path, rows: Ints, lines: pa.StringArray) -> None:
    """A sample line without a timestamp, or a line that is not a sample at all."""
    if rows.size:
        _diagnose(path, int(rows[0]) + 1, str(lines[int(rows[0])].as_py()))


def _numbers(
    path: Path, column: pa.Array, line_numbers: Ints, lines: pa.StringArray, what: str
) -> Floats:
    try:
        return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False))
    except pa.ArrowInvalid:
        texts = column.to_pylist()  # the error path only: find the first bad one
        row = next(i for i, t in enumerate(texts) if not _is_number(t))
        line = int(line_numbers[row])
        _diagnose(path, line, str(lines[line - 1].as_py()))
        raise SourceError(
            f"{path}: line {line}: {what} {_clip(str(texts[row]))} is not a number"
        ) from None


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


def _to_nanoseconds(path: Path, stamps: Floats, kind: ExpositionKind, lines: Ints) -> Ints:
    """OpenMetrics counts seconds, the Prometheus text format milliseconds; whole ms kept."""
    nanoseconds = _nanoseconds(stamps, kind)
    bad = (nanoseconds < _EARLIEST) | (nanoseconds >= _LATEST) | ~np.isfinite(stamps)
    if bad.any():
        row = int(np.argmax(bad))
        unit = (
            "seconds (OpenMetrics: the file ends with # EOF)"
            if kind == "openmetrics"
            else ("milliseconds (Prometheus text format: no # EOF)")
        )
        raise SourceError(
            f"{path}: line {lines[row]}: timestamp {stamps[row]:.17g} read as {unit} is not a "
            "time between 2000 and 2100"
        )
    return nanoseconds


def _nanoseconds(stamps: Floats, kind: ExpositionKind) -> Ints:
    """OpenMetrics counts seconds, the Prometheus text format milliseconds; whole ms kept."""
    with np.errstate(invalid="ignore"):
        milliseconds = np.round(stamps * (1000.0 if kind == "openmetrics" else 1.0))
        return (
            np.nan_to_num(milliseconds, nan=-1.0, posinf=-1.0, neginf=-1.0).astype(np.int64)
            * 1_000_000
        )


def _first_occurrence(codes: npt.NDArray[np.int32], count: int) -> Ints:
    first = np.full(count, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
    return first


def _parse_series_key(path: Path, key: str, line: int) -> tuple[str, dict[str, str]]:
    """``name{a="x",b="y"}`` into its name and labels (escapes \\\\, \\" and \\n undone)."""
    name, brace, rest = key.partition("{")
    if not _METRIC_NAME.match(name):
        raise SourceError(f"{path}: line {line}: invalid metric name {_clip(name)}")
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
    return name, labels


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _is_number(text: str | None) -> bool:
    try:
        float(text or "")
    except ValueError:
        return False
    return True


def _looks_like_series(text: str) -> bool:
    name = text.partition("{")[0]
    return bool(_METRIC_NAME.match(name)) and (("{" in text) == text.endswith("}"))


def _clip(text: str) -> str:
    return repr(text if len(text) <= 120 else text[:117] + "...")
