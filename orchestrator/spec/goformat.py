"""Values printed the way Docker Compose v2 (a Go program) prints them.

`pyorch config` must print what `docker compose config` prints, so the small rules of Go's
formatting matter: `time.Duration.String()` (`1m30s`, `1.5s`, `500ms`), the shortest float32
digits (`0.1`, not `0.10000000149011612`), `fmt.Sprint` of a YAML float (`1e+06`), the key order
of gopkg.in/yaml.v3 (digits compared as numbers: `A9` before `A10`), and encoding/json's output
(`<`, `>` and `&` escaped, maps sorted by bytes). Everything here is pure formatting; YAML
itself is written by goyaml.py.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

from orchestrator.spec.yamlsource import Timestamp

_NS_PER = {"h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000}


@dataclass(frozen=True)
class Float32:
    """A Go float32 field (cpus, cpu_percent, max_failure_ratio): printed with float32's shortest digits."""

    value: float


def seconds_to_ns(seconds: float) -> int:
    return round(seconds * 1e9)


def duration_string(seconds: float) -> str:
    """Go's `time.Duration(ns).String()`: `0s`, `1.5s`, `1m30s`, `2h0m0s`, `500ms`, `1µs`, `7ns`."""
    ns = seconds_to_ns(seconds)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size or unit == "ns":
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, _NS_PER["h"])
    minutes, rest = divmod(rest, _NS_PER["m"])
    text = _fraction(rest, _NS_PER["s"]) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _fraction(value: int, unit: int) -> str:
    """`value / unit` in decimal without trailing zeros (exact integer arithmetic, as Go does)."""
    whole, rest = divmod(value, unit)
    if rest == 0:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")


def _float32(value: float) -> float:
    packed: float = struct.unpack("f", struct.pack("f", value))[0]
    return packed


def _shortest_digits(value: float, bits: int) -> tuple[str, int]:
    """(digits, decimal exponent) of the shortest decimal that reads back as the same float."""
    target = _float32(value) if bits == 32 else value
    formatted = f"{target:.16e}"
    for precision in range(1, 18):
        candidate = f"{target:.{precision - 1}e}"
        back = float(candidate)
        if (_float32(back) if bits == 32 else back) == target:
            formatted = candidate
            break
    mantissa, _, exponent = formatted.partition("e")
    digits = mantissa.replace(".", "").rstrip("0") or "0"
    return digits, int(exponent)


def format_float(value: float, bits: int = 64, style: str = "g") -> str:
    """Go's shortest formatting of a float64 or float32.

    `g`: strconv.FormatFloat(v, 'g', -1, bits), which fmt.Sprint and yaml.v3 use (exponent form
    when the exponent is below -4 or at least 6, written with two digits: `1e+06`); `json`:
    encoding/json's rule (plain unless below 1e-6 or at least 1e21; `1e-7`, not `1e-07`).
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    negative = math.copysign(1.0, value) < 0
    sign = "-" if negative else ""
    if value == 0:
        return sign + "0"
    digits, exponent = _shortest_digits(abs(value), bits)
    if style == "json":
        magnitude = abs(_float32(value) if bits == 32 else value)
        use_exponent = magnitude < 1e-6 or magnitude >= 1e21
    else:
        use_exponent = exponent < -4 or exponent >= 6
    if use_exponent:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exp_digits = f"{abs(exponent):02d}"
        if style == "json" and exponent < 0:
            exp_digits = str(abs(exponent))
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{exp_digits}"
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    if len(digits) <= exponent + 1:
        return sign + digits + "0" * (exponent + 1 - len(digits))
    return f"{sign}{digits[:exponent + 1]}.{digits[exponent + 1:]}"


def go_text(value: Any) -> str:
    """`fmt.Sprint` of a decoded scalar: how Compose turns a number or boolean into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    return str(value)


# --- gopkg.in/yaml.v3's order of map keys ---------------------------------------------------------

def _is_letter(ch: str) -> bool:
    return ch.isalpha()


def _is_digit(ch: str) -> bool:
    return ch.isdigit() and ch.isascii()


def yaml_key_less(a: str, b: str) -> bool:
    """yaml.v3's key order: letters compare as characters, runs of digits as numbers, letters
    after other characters unless a digit run came before."""
    digits = False
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            digits = _is_digit(a[i])
            continue
        a_letter, b_letter = _is_letter(a[i]), _is_letter(b[i])
        if a_letter and b_letter:
            return a[i] < b[i]
        if a_letter or b_letter:
            return a_letter if digits else b_letter
        a_num = b_num = 0
        if a[i] == "0" or b[i] == "0":
            j = i - 1
            while j >= 0 and _is_digit(a[j]):
                if a[j] != "0":
                    a_num = b_num = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and _is_digit(a[ai]):
            a_num = a_num * 10 + int(a[ai])
            ai += 1
        bi = i
        while bi < len(b) and _is_digit(b[bi]):
            b_num = b_num * 10 + int(b[bi])
            bi += 1
        if a_num != b_num:
            return a_num < b_num
        if ai != bi:
            return ai < bi
        return a[i] < b[i]
    return len(a) < len(b)


class _YamlKey:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __lt__(self, other: _YamlKey) -> bool:
        return yaml_key_less(self.text, other.text)


def sorted_keys(keys: Any, fmt: str) -> list[str]:
    """Keys of a Go map in the order the format's encoder writes them."""
    if fmt == "json":
        return sorted(keys)
    return sorted(keys, key=_YamlKey)


# --- emitters --------------------------------------------------------------------------------------

_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f",
                 "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        escaped = _JSON_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Float32):
        return format_float(value.value, 32, "json")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value, 64, "json")
    if isinstance(value, Timestamp):
        return _json_string(value.go_text())
    if isinstance(value, str):
        return _json_string(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def emit_json(value: Any) -> str:
    """encoding/json.MarshalIndent(value, "", "  "): dict order is kept (callers sort as Go does)."""
    out: list[str] = []

    def write(node: Any, indent: str) -> None:
        if not isinstance(node, dict | list):
            out.append(_json_scalar(node))
            return
        # An object's members are written as an array's items are, each after its `"key": `.
        brackets, items = (("{}", [(f"{_json_string(k)}: ", v) for k, v in node.items()]) if isinstance(node, dict)
                           else ("[]", [("", v) for v in node]))
        if not items:
            out.append(brackets)
            return
        inner = indent + "  "
        out.append(brackets[0] + "\n")
        for position, (prefix, item) in enumerate(items):
            out.append(inner + prefix)
            write(item, inner)
            out.append(",\n" if position < len(items) - 1 else "\n")
        out.append(indent + brackets[1])

    write(value, "")
    return "".join(out)
