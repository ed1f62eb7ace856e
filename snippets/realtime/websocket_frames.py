# /// script
# requires-python = ">=3.11"
# dependencies = []
# ///
"""WebSocket under the hood: the opening handshake and the frames of RFC 6455, from scratch.

A WebSocket starts as an HTTP/1.1 GET with `Upgrade: websocket`; the server proves it understood
by hashing the client's key into `Sec-WebSocket-Accept` and answers 101 Switching Protocols.
From then on both sides send frames: a 2-byte header, a 7, 16 or 64-bit length, a 4-byte mask on
every client frame, and the payload. Messages can be cut into fragments; ping, pong and close
are control frames that may arrive between fragments. A receiver that sees a broken rule closes
the connection with the close code the RFC assigns (1002 protocol error, 1007 bad UTF-8,
1009 too big). In production, use the `websockets` library (see websocket_chat.py).

Run: python websocket_frames.py
(no network needed: it builds and parses the RFC's own examples and shows what a receiver rejects)
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass

# --8<-- [start:handshake]
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # fixed by RFC 6455, section 1.3


def accept_key(client_key: str) -> str:
    """Sec-WebSocket-Accept: base64(SHA-1(key + GUID)). Proves the server speaks WebSocket."""
    return base64.b64encode(hashlib.sha1((client_key + GUID).encode()).digest()).decode()


class HandshakeError(ValueError):
    """The request is not a valid WebSocket opening handshake (the server answers 400)."""


def parse_handshake(request: bytes) -> str:
    """Check a client's opening handshake (RFC 6455, section 4.2.1); return its key."""
    head = request.decode("latin-1").split("\r\n")
    request_line = head[0].split(" ")
    if len(request_line) != 3 or request_line[0] != "GET" or request_line[2] != "HTTP/1.1":
        raise HandshakeError("the handshake must be an HTTP/1.1 GET")
    headers = {}
    for line in head[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        raise HandshakeError("missing Upgrade: websocket")
    if "upgrade" not in [t.strip().lower() for t in headers.get("connection", "").split(",")]:
        raise HandshakeError("missing Connection: Upgrade")
    if headers.get("sec-websocket-version") != "13":
        raise HandshakeError("Sec-WebSocket-Version must be 13")
    key = headers.get("sec-websocket-key", "")
    try:
        nonce = base64.b64decode(key, validate=True)
    except ValueError as error:  # binascii.Error is a ValueError
        raise HandshakeError("Sec-WebSocket-Key is not base64") from error
    if len(nonce) != 16:
        raise HandshakeError("Sec-WebSocket-Key must be 16 bytes, base64-encoded")
    return key


def handshake_request(host: str, path: str = "/") -> tuple[bytes, str]:
    """A client's opening handshake with a fresh random key, and the key to check the answer."""
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode(), key


def handshake_response(client_key: str) -> bytes:
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(client_key)}\r\n\r\n").encode()
# --8<-- [end:handshake]


CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODE_NAMES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


class ProtocolError(Exception):
    """A rule of RFC 6455 was broken; `code` is the close code to send (section 7.4.1)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code, self.reason = code, reason


# --8<-- [start:frame]
@dataclass(frozen=True)
class Frame:
    opcode: int
    payload: bytes
    fin: bool = True  # False on every fragment of a message but the last


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR with a 4-byte key (section 5.3). Applying it twice gives the payload back."""
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(payload), "big")


def encode(frame: Frame, mask_key: bytes | None = None) -> bytes:
    """A frame on the wire. Clients must pass a fresh random `mask_key`; servers pass None."""
    head = bytes([(frame.fin << 7) | frame.opcode])
    mask_bit = 0x80 if mask_key is not None else 0
    length = len(frame.payload)
    if length < 126:
        head += bytes([mask_bit | length])  # 7-bit length
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)  # 16-bit length
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)  # 64-bit length
    if mask_key is None:
        return head + frame.payload
    return head + mask_key + mask(frame.payload, mask_key)


def decode(data: bytes, *, from_client: bool, max_size: int = 1 << 20) -> tuple[Frame, int] | None:
    """Parse one frame from the start of `data`: (frame, bytes used), or None if incomplete."""
    if len(data) < 2:
        return None
    first, second = data[0], data[1]
    fin, opcode, masked, length = first >> 7, first & 0x0F, second >> 7, second & 0x7F
    if first & 0x70:
        raise ProtocolError(1002, "reserved bits set without an extension")
    if opcode not in OPCODE_NAMES:
        raise ProtocolError(1002, f"unknown opcode {opcode:#x}")
    if opcode >= CLOSE and (not fin or length > 125):
        raise ProtocolError(1002, "control frames must be whole and at most 125 bytes")
    if masked != from_client:
        raise ProtocolError(1002, "client frames must be masked, server frames must not")
    offset = 2
    if length == 126:
        if len(data) < 4:
            return None
        (length,) = struct.unpack_from("!H", data, 2)
        offset = 4
    elif length == 127:
        if len(data) < 10:
            return None
        (length,) = struct.unpack_from("!Q", data, 2)
        offset = 10
    if length > max_size:
        raise ProtocolError(1009, f"frame of {length} bytes, the limit is {max_size}")
    key = data[offset : offset + 4] if masked else b""
    offset += len(key) if masked else 0
    if len(data) < offset + length or len(key) < 4 * masked:
        return None
    payload = data[offset : offset + length]
    return Frame(opcode, mask(payload, key) if masked else payload, bool(fin)), offset + length
# --8<-- [end:frame]


# --8<-- [start:messages]
class MessageAssembler:
    """Joins fragments into messages; control frames pass through between fragments (5.4)."""

    def __init__(self, max_size: int = 1 << 20) -> None:
        self.max_size = max_size
        self._opcode: int | None = None  # the opcode of the message being fragmented
        self._parts: list[bytes] = []
        self._size = 0  # bytes in _parts, kept as they come: summing them each time is O(n^2)

    def add(self, frame: Frame) -> tuple[str, bytes | str] | None:
        if frame.opcode >= CLOSE:
            if frame.opcode == CLOSE:
                return "close", parse_close(frame.payload)
            return OPCODE_NAMES[frame.opcode], frame.payload
        if frame.opcode == CONTINUATION and self._opcode is None:
            raise ProtocolError(1002, "continuation frame without a message to continue")
        if frame.opcode != CONTINUATION and self._opcode is not None:
            raise ProtocolError(1002, "new message before the fragmented one ended")
        if self._opcode is None:
            self._opcode = frame.opcode
        self._parts.append(frame.payload)
        self._size += len(frame.payload)
        if self._size > self.max_size:
            raise ProtocolError(1009, f"message over {self.max_size} bytes")
        if not frame.fin:
            return None
        payload, opcode = b"".join(self._parts), self._opcode
        self._opcode, self._parts, self._size = None, [], 0
        if opcode == BINARY:
            return "binary", payload
        try:
            return "text", payload.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ProtocolError(1007, "text message is not valid UTF-8") from error


def parse_close(payload: bytes) -> str:
    """A close frame holds nothing, or a 2-byte code and a UTF-8 reason (section 5.5.1)."""
    if not payload:
        return "1005 (no code)"
    if len(payload) == 1:
        raise ProtocolError(1002, "close payload of 1 byte")
    code = struct.unpack("!H", payload[:2])[0]
    if code < 1000 or code in (1004, 1005, 1006, 1015) or 1015 < code < 3000 or code >= 5000:
        raise ProtocolError(1002, f"close code {code} may not be sent")
    try:
        return f"{code} {payload[2:].decode('utf-8')}".rstrip()
    except UnicodeDecodeError as error:
        raise ProtocolError(1007, "close reason is not valid UTF-8") from error
# --8<-- [end:messages]


def show(frame_bytes: bytes) -> str:
    shown = " ".join(f"{b:02x}" for b in frame_bytes[:11])
    return shown + (" ..." if len(frame_bytes) > 11 else "")


def demo() -> None:
    print("handshake (RFC 6455, section 1.3):")
    request = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
    key = parse_handshake(request)
    print(f"  key {key} -> Sec-WebSocket-Accept {accept_key(key)}")
    print("frames (RFC 6455, section 5.7):")
    rfc_key = bytes.fromhex("37fa213d")
    examples = [
        ("unmasked text 'Hello'", encode(Frame(TEXT, b"Hello")), False),
        ("masked text 'Hello'", encode(Frame(TEXT, b"Hello"), rfc_key), True),
        ("fragment 'Hel'", encode(Frame(TEXT, b"Hel", fin=False)), False),
        ("fragment 'lo'", encode(Frame(CONTINUATION, b"lo")), False),
        ("unmasked ping", encode(Frame(PING, b"Hello")), False),
        ("masked pong", encode(Frame(PONG, b"Hello"), rfc_key), True),
        ("256 bytes binary", encode(Frame(BINARY, bytes(256))), False),
        ("64 KiB binary", encode(Frame(BINARY, bytes(65536))), False),
    ]
    assembler = MessageAssembler()
    for name, wire, from_client in examples:
        frame, used = decode(wire, from_client=from_client)
        message = assembler.add(frame)
        got = "(waits for more)" if message is None else f"-> {message[0]} {len(message[1])} bytes"
        print(f"  {name:<22} {len(wire):>6} bytes: {show(wire):<40} {got}")
    print("what a server rejects, and the close code it sends:")
    bad = {
        "unmasked client frame": encode(Frame(TEXT, b"hi")),
        "reserved bit set": bytes([0xC1, 0x80]) + rfc_key,
        "opcode 0x3": bytes([0x83, 0x80]) + rfc_key,
        "fragmented ping": encode(Frame(PING, b"", fin=False), rfc_key),
        "2 MiB frame": bytes([0x82, 0xFF]) + struct.pack("!Q", 2 << 20),
    }
    for name, wire in bad.items():
        try:
            decode(wire, from_client=True)
        except ProtocolError as error:
            print(f"  {name:<22} close {error}")
    for name, bad_frame in {
        "bad UTF-8 text": Frame(TEXT, b"\xff"),
        "orphan continuation": Frame(CONTINUATION, b"x"),
        "close code 1005": Frame(CLOSE, struct.pack("!H", 1005)),
    }.items():
        try:
            MessageAssembler().add(bad_frame)
        except ProtocolError as error:
            print(f"  {name:<22} close {error}")


if __name__ == "__main__":
    demo()
