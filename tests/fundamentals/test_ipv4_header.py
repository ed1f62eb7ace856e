import ipaddress
import struct

import pytest

from tests.support import load_snippet

ip = load_snippet("fundamentals/ipv4_header.py")

# Wikipedia, "Internet checksum", worked example of an IPv4 header (checksum field is b861).
PUBLISHED_HEADER = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
PUBLISHED_CHECKSUM = 0xB861


def sample(**changes) -> "ip.IPv4Header":
    fields = dict(
        source=ipaddress.IPv4Address("192.168.0.1"),
        destination=ipaddress.IPv4Address("192.168.0.199"),
        protocol=17,
        total_length=115,
    )
    return ip.IPv4Header(**{**fields, **changes})


def test_checksum_of_rfc_1071_numerical_example():
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (with carries folded).
    assert ip.internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2 & 0xFFFF)


def test_checksum_of_published_ipv4_header():
    assert ip.internet_checksum(PUBLISHED_HEADER) == PUBLISHED_CHECKSUM


def test_odd_length_is_padded_with_a_zero_byte():
    assert ip.internet_checksum(b"\x12\x34\x56") == ip.internet_checksum(b"\x12\x34\x56\x00")


def test_built_header_is_the_published_one():
    expected = PUBLISHED_HEADER[:10] + struct.pack("!H", PUBLISHED_CHECKSUM) + PUBLISHED_HEADER[12:]
    assert sample().to_bytes() == expected


def test_a_valid_header_checksums_to_zero():
    assert ip.internet_checksum(sample(ttl=3, identification=0xBEEF).to_bytes()) == 0


@pytest.mark.parametrize(
    "header",
    [
        sample(),
        sample(ttl=1, protocol=6, dscp=46, ecn=1, identification=65535),
        sample(dont_fragment=False, more_fragments=True, fragment_offset=185),
        sample(options=b"\x01\x01\x01\x00", total_length=24),  # NOP NOP NOP END
    ],
)
def test_round_trip(header):
    wire = header.to_bytes()
    assert len(wire) == header.header_length
    assert ip.IPv4Header.parse(wire) == header


def test_payload_after_the_header_is_ignored():
    assert ip.IPv4Header.parse(sample().to_bytes() + b"payload") == sample()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated: 0 bytes"),
        (PUBLISHED_HEADER[:19], "truncated: 19 bytes"),
        (b"\x46" + PUBLISHED_HEADER[1:], "truncated: header says 24 bytes, only 20 given"),
        (b"\x65" + PUBLISHED_HEADER[1:], "version is 6"),
        (b"\x44" + PUBLISHED_HEADER[1:], "header length field is 4 words"),
        (PUBLISHED_HEADER, "checksum mismatch"),  # its checksum field is zero
    ],
)
def test_malformed_headers_are_rejected_with_a_clear_error(data, message):
    with pytest.raises(ip.HeaderError, match=message):
        ip.IPv4Header.parse(data)


def with_valid_checksum(header: bytes) -> bytes:
    blank = header[:10] + b"\x00\x00" + header[12:]
    return blank[:10] + struct.pack("!H", ip.internet_checksum(blank)) + blank[12:]


def test_every_single_bit_flip_is_detected():
    wire = sample().to_bytes()
    for bit in range(len(wire) * 8):
        corrupted = bytearray(wire)
        corrupted[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ip.HeaderError):
            ip.IPv4Header.parse(bytes(corrupted))


def test_total_length_shorter_than_header_is_rejected():
    bad = with_valid_checksum(PUBLISHED_HEADER[:2] + b"\x00\x10" + PUBLISHED_HEADER[4:])
    with pytest.raises(ip.HeaderError, match="shorter than the header"):
        ip.IPv4Header.parse(bad)


def test_reserved_flag_is_rejected():
    bad = with_valid_checksum(PUBLISHED_HEADER[:6] + b"\xc0\x00" + PUBLISHED_HEADER[8:])
    with pytest.raises(ip.HeaderError, match="reserved flag"):
        ip.IPv4Header.parse(bad)


@pytest.mark.parametrize("options", [b"\x01", b"\x00" * 44])
def test_options_must_be_whole_words_and_fit(options):
    with pytest.raises(ip.HeaderError, match="options"):
        sample(options=options).to_bytes()
