"""stdout and stderr as the CLI finds them (cli/streams.py): ASCII look-alikes of the same width
for a stream that cannot encode percgrad's symbols, JSON escapes for --json."""

from __future__ import annotations

import io
import json

from percgrad.cli.streams import HANDLER, can_encode, json_for, look_alike


def test_look_alikes_keep_the_width() -> None:
    text = "‖∂E/∂W‖ φ′ ─ ✔ ☃"
    assert text.encode("ascii", errors=HANDLER).decode("ascii") == "|dE/dW| f' - v ?"
    assert look_alike("σ") == "s" and look_alike("é") == "e" and look_alike("☃") == "?"


def test_json_is_escaped_for_a_stream_that_cannot_encode_it() -> None:
    ascii_stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    utf8_stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    assert not can_encode(ascii_stream) and can_encode(utf8_stream)
    doc = json.dumps({"activation": "φ", "note": "‖δ‖"}, ensure_ascii=False)
    assert json_for(utf8_stream, doc) == doc
    escaped = json_for(ascii_stream, doc)
    assert escaped.isascii() and json.loads(escaped) == json.loads(doc)
