"""Bytes from a terminal in raw mode → key names (pure).

A read returns what the terminal sent since the last one: often one key, sometimes several (keys
typed fast, a paste) and for special keys an escape sequence. The sequences below are the ones
xterm, tmux, screen, the Linux console and the usual SSH clients send (normal and application
cursor mode). An ESC with nothing after it in the same read is the Escape key.
"""

from __future__ import annotations

_SEQUENCES = {
    "\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left",
    "\x1bOA": "up", "\x1bOB": "down", "\x1bOC": "right", "\x1bOD": "left",
    "\x1b[H": "home", "\x1b[F": "end", "\x1bOH": "home", "\x1bOF": "end",
    "\x1b[1~": "home", "\x1b[4~": "end", "\x1b[7~": "home", "\x1b[8~": "end",
    "\x1b[5~": "pgup", "\x1b[6~": "pgdn", "\x1b[3~": "delete", "\x1b[2~": "insert",
    "\x1b[Z": "shift-tab",
}
_CONTROLS = {"\r": "enter", "\n": "enter", "\t": "tab", "\x7f": "backspace", "\x08": "backspace",
             "\x03": "ctrl-c", "\x04": "ctrl-d", "\x0c": "ctrl-l", "\x1a": "ctrl-z"}
_LONGEST = max(len(s) for s in _SEQUENCES)


def decode(data: bytes) -> list[str]:
    """Key names in the order typed: `up`, `enter`, `esc`, `ctrl-c`, … or the character itself."""
    text = data.decode("utf-8", errors="replace")
    keys: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\x1b":
            for length in range(_LONGEST, 1, -1):
                name = _SEQUENCES.get(text[i:i + length])
                if name is not None:
                    keys.append(name)
                    i += length
                    break
            else:
                unknown = _unknown_sequence_length(text, i)
                keys.append("esc" if unknown == 1 else "unknown")
                i += unknown
            continue
        char = text[i]
        keys.append(_CONTROLS.get(char, char))
        i += 1
    return keys


def _unknown_sequence_length(text: str, start: int) -> int:
    """How long an escape sequence we do not know is (CSI … final byte), so none of it is read as keys."""
    if start + 1 < len(text) and text[start + 1] in "[O":
        end = start + 2
        while end < len(text) and not ("@" <= text[end] <= "~"):
            end += 1
        return min(end + 1, len(text)) - start
    return 1
