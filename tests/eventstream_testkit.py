"""AWS's binary event-stream encoding (`application/vnd.amazon.eventstream`), for test servers.

Bedrock answers streams with it: the boto3 tests serve it from a loopback server for botocore's
own parser, the AnthropicBedrock and HTTP tests through MockTransport for ours.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message of the AWS event stream encoding: prelude, prelude CRC, headers, payload, message CRC."""
    encoded_headers = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded_headers += struct.pack("!B", len(raw_name)) + raw_name + b"\x07" + struct.pack("!H", len(raw_value))
        encoded_headers += raw_value
    total = 12 + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded_headers))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + encoded_headers + payload
    return message + struct.pack("!I", zlib.crc32(message))


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return event_message(headers, json.dumps(payload).encode())


def chunk_event(chunk: bytes) -> bytes:
    """An InvokeModelWithResponseStream `chunk`: the model's JSON chunk in base64 (`p` is Bedrock's padding)."""
    return event("chunk", {"bytes": base64.b64encode(chunk).decode(), "p": "abcdefgh"})


def exception_event(exception_type: str, message: str) -> bytes:
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return event_message(headers, json.dumps({"message": message}).encode())
