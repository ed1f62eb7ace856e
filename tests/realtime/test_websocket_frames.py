import base64
import struct
import time

import pytest

from tests.support import load_snippet

ws = load_snippet("realtime/websocket_frames.py")

RFC_KEY = bytes.fromhex("37fa213d")  # the masking key of RFC 6455's examples, section 5.7
RFC_REQUEST = (
    b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)

# RFC 6455, section 5.7, byte for byte
SECTION_5_7 = [
    (ws.Frame(ws.TEXT, b"Hello"), None, "810548656c6c6f"),
    (ws.Frame(ws.TEXT, b"Hello"), RFC_KEY, "818537fa213d7f9f4d5158"),
    (ws.Frame(ws.TEXT, b"Hel", fin=False), None, "010348656c"),
    (ws.Frame(ws.CONTINUATION, b"lo"), None, "80026c6f"),
    (ws.Frame(ws.PING, b"Hello"), None, "890548656c6c6f"),
    (ws.Frame(ws.PONG, b"Hello"), RFC_KEY, "8a8537fa213d7f9f4d5158"),
]


def test_accept_key_of_the_rfc_example():
    # RFC 6455, sections 1.3 and 4.2.2
    assert ws.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_of_the_rfc_example():
    key = ws.parse_handshake(RFC_REQUEST)
    response = ws.handshake_response(key)
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in response
    assert response.endswith(b"\r\n\r\n")


def test_client_handshake_uses_a_fresh_16_byte_key_the_server_accepts():
    request, key = ws.handshake_request("example.com", "/chat")
    assert len(base64.b64decode(key)) == 16
    assert ws.parse_handshake(request) == key
    assert ws.handshake_request("example.com")[1] != key


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ((b"GET /chat HTTP/1.1", b"POST /chat HTTP/1.1"), "HTTP/1.1 GET"),
        ((b"GET /chat HTTP/1.1", b"GET /chat HTTP/1.0"), "HTTP/1.1 GET"),
        ((b"Upgrade: websocket", b"Upgrade: h2c"), "Upgrade: websocket"),
        ((b"Connection: Upgrade", b"Connection: keep-alive"), "Connection: Upgrade"),
        ((b"Version: 13", b"Version: 8"), "must be 13"),
        ((b"dGhlIHNhbXBsZSBub25jZQ==", b"c2hvcnQ="), "16 bytes"),
        ((b"dGhlIHNhbXBsZSBub25jZQ==", b"not base64!"), "not base64"),
    ],
)
def test_bad_handshakes_are_rejected(change, message):
    with pytest.raises(ws.HandshakeError, match=message):
        ws.parse_handshake(RFC_REQUEST.replace(*change))


def test_connection_header_may_list_several_tokens():
    request = RFC_REQUEST.replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade")
    assert ws.parse_handshake(request) == "dGhlIHNhbXBsZSBub25jZQ=="


@pytest.mark.parametrize(("frame", "key", "wire"), SECTION_5_7)
def test_section_5_7_examples_encode_byte_for_byte(frame, key, wire):
    assert ws.encode(frame, key).hex() == wire


@pytest.mark.parametrize(("frame", "key", "wire"), SECTION_5_7)
def test_section_5_7_examples_decode(frame, key, wire):
    data = bytes.fromhex(wire)
    assert ws.decode(data, from_client=key is not None) == (frame, len(data))


def test_section_5_7_16_and_64_bit_lengths():
    assert ws.encode(ws.Frame(ws.BINARY, bytes(256)))[:4] == bytes.fromhex("827e0100")
    big = ws.encode(ws.Frame(ws.BINARY, bytes(65536)))
    assert big[:10] == bytes.fromhex("827f0000000000010000")
    assert ws.decode(big, from_client=False) == (ws.Frame(ws.BINARY, bytes(65536)), 65546)


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536])
def test_length_boundaries_round_trip_masked(length):
    frame = ws.Frame(ws.BINARY, bytes(range(256)) * (length // 256) + bytes(length % 256))
    wire = ws.encode(frame, RFC_KEY)
    assert ws.decode(wire, from_client=True) == (frame, len(wire))


def test_masking_twice_gives_the_payload_back():
    assert ws.mask(ws.mask(b"any payload", RFC_KEY), RFC_KEY) == b"any payload"


def test_incomplete_frames_wait_for_more_bytes_at_every_cut():
    wire = ws.encode(ws.Frame(ws.BINARY, bytes(300)), RFC_KEY) + b"next"
    for cut in range(len(wire) - 4):
        assert ws.decode(wire[:cut], from_client=True) is None
    assert ws.decode(wire, from_client=True)[1] == len(wire) - 4
    long_head = bytes([0x82, 0x7F, 0, 0])
    assert ws.decode(long_head, from_client=False) is None


@pytest.mark.parametrize(
    ("wire", "code", "message"),
    [
        (ws.encode(ws.Frame(ws.TEXT, b"hi")), 1002, "must be masked"),
        (bytes([0xC1, 0x80]) + RFC_KEY, 1002, "reserved bits"),
        (bytes([0x83, 0x80]) + RFC_KEY, 1002, "unknown opcode 0x3"),
        (bytes([0x8B, 0x80]) + RFC_KEY, 1002, "unknown opcode 0xb"),
        (ws.encode(ws.Frame(ws.PING, b"", fin=False), RFC_KEY), 1002, "control frames"),
        (ws.encode(ws.Frame(ws.PING, bytes(126)), RFC_KEY), 1002, "control frames"),
        (bytes([0x82, 0xFF]) + struct.pack("!Q", 2 << 20), 1009, "frame of 2097152 bytes"),
    ],
)
def test_bad_client_frames_get_the_right_close_code(wire, code, message):
    with pytest.raises(ws.ProtocolError, match=message) as error:
        ws.decode(wire, from_client=True)
    assert error.value.code == code


def test_a_masked_frame_from_the_server_is_rejected():
    with pytest.raises(ws.ProtocolError, match="must not"):
        ws.decode(ws.encode(ws.Frame(ws.TEXT, b"x"), RFC_KEY), from_client=False)


def test_fragmented_message_with_a_ping_in_the_middle():
    assembler = ws.MessageAssembler()
    frames = [ws.Frame(ws.TEXT, b"Hel", fin=False), ws.Frame(ws.PING, b"?"),
              ws.Frame(ws.CONTINUATION, b"l", fin=False), ws.Frame(ws.CONTINUATION, b"o")]
    assert [assembler.add(f) for f in frames] == [None, ("ping", b"?"), None, ("text", "Hello")]


def test_utf8_may_be_split_across_fragments():
    assembler = ws.MessageAssembler()
    euro = "\u20ac".encode()
    assert assembler.add(ws.Frame(ws.TEXT, euro[:1], fin=False)) is None
    assert assembler.add(ws.Frame(ws.CONTINUATION, euro[1:])) == ("text", "\u20ac")


def test_binary_message_and_pong():
    assembler = ws.MessageAssembler()
    assert assembler.add(ws.Frame(ws.BINARY, b"\x00\xff")) == ("binary", b"\x00\xff")
    assert assembler.add(ws.Frame(ws.PONG, b"")) == ("pong", b"")


def test_many_small_fragments_are_joined_in_linear_time():
    """40,000 one-byte fragments: adding up every part again at each fragment took 16 s."""
    frames = [ws.Frame(ws.BINARY, b"x", fin=False),
              *[ws.Frame(ws.CONTINUATION, b"x", fin=False)] * 39_998,
              ws.Frame(ws.CONTINUATION, b"x")]
    assembler = ws.MessageAssembler()
    started = time.perf_counter()
    assert [assembler.add(frame) for frame in frames][-1] == ("binary", b"x" * 40_000)
    assert time.perf_counter() - started < 2  # linear: tens of milliseconds


def test_the_size_limit_counts_each_message_on_its_own():
    assembler = ws.MessageAssembler(max_size=100)
    for _ in range(3):  # 90 bytes each: 270 in all, but never more than 100 in one message
        assert assembler.add(ws.Frame(ws.BINARY, bytes(60), fin=False)) is None
        assert assembler.add(ws.Frame(ws.CONTINUATION, bytes(30))) == ("binary", bytes(90))


@pytest.mark.parametrize(
    ("frames", "code", "message"),
    [
        ([ws.Frame(ws.CONTINUATION, b"x")], 1002, "without a message"),
        ([ws.Frame(ws.TEXT, b"a", fin=False), ws.Frame(ws.TEXT, b"b")], 1002, "before the frag"),
        ([ws.Frame(ws.TEXT, b"\xff")], 1007, "not valid UTF-8"),
        ([ws.Frame(ws.BINARY, bytes(60), fin=False), ws.Frame(ws.CONTINUATION, bytes(60))],
         1009, "message over 100 bytes"),
    ],
)
def test_bad_messages_get_the_right_close_code(frames, code, message):
    assembler = ws.MessageAssembler(max_size=100)
    with pytest.raises(ws.ProtocolError, match=message) as error:
        for frame in frames:
            assembler.add(frame)
    assert error.value.code == code


@pytest.mark.parametrize(
    ("payload", "shown"),
    [(b"", "1005 (no code)"), (struct.pack("!H", 1000), "1000"),
     (struct.pack("!H", 1001) + b"going away", "1001 going away"),
     (struct.pack("!H", 4000) + b"app", "4000 app")],
)
def test_close_frames(payload, shown):
    assert ws.MessageAssembler().add(ws.Frame(ws.CLOSE, payload)) == ("close", shown)


@pytest.mark.parametrize(
    ("payload", "code"),
    [(b"\x03", 1002), (struct.pack("!H", 999), 1002), (struct.pack("!H", 1005), 1002),
     (struct.pack("!H", 1006), 1002), (struct.pack("!H", 2000), 1002),
     (struct.pack("!H", 5000), 1002), (struct.pack("!H", 1000) + b"\xff", 1007)],
)
def test_bad_close_frames(payload, code):
    with pytest.raises(ws.ProtocolError) as error:
        ws.parse_close(payload)
    assert error.value.code == code
