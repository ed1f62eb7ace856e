import struct

import dns.message
import dns.rrset
import pytest

from tests.support import load_snippet

dm = load_snippet("application/dns_message.py")


def rfc_1035_example() -> bytes:
    """RFC 1035 section 4.1.4: F.ISI.ARPA at byte 20, FOO.F.ISI.ARPA at 40, ARPA at 64."""
    data = bytearray(70)
    data[20:32] = b"\x01F\x03ISI\x04ARPA\x00"
    data[40:46] = b"\x03FOO\xc0\x14"  # pointer to 20
    data[64:66] = b"\xc0\x1a"  # pointer to 26, where ARPA starts
    return bytes(data)


@pytest.mark.parametrize(
    ("offset", "name", "next_offset"),
    [(20, "F.ISI.ARPA.", 32), (40, "FOO.F.ISI.ARPA.", 46), (64, "ARPA.", 66)],
)
def test_names_of_the_rfc_1035_compression_example(offset, name, next_offset):
    reader = dm.Reader(rfc_1035_example())
    reader.offset = offset
    assert reader.name() == name
    assert reader.offset == next_offset  # after a pointer, parsing goes on after the pointer


def test_query_matches_dnspython_bytes():
    ours = dm.build_query("www.example.com", dm.TYPE_A, query_id=0x1234)
    theirs = dns.message.make_query("www.example.com.", "A")
    theirs.id = 0x1234
    assert ours == theirs.to_wire()


@pytest.mark.parametrize(
    "name", ["example.com", "example.com.", "a.b.c.d.e.f.g", "xn--bcher-kva.example"]
)
def test_query_round_trips_through_dnspython(name):
    wire = dm.build_query(name, dm.TYPE_AAAA, query_id=7, recursion=False)
    parsed = dns.message.from_wire(wire)
    assert str(parsed.question[0].name) == name.rstrip(".") + "."
    assert parsed.question[0].rdtype == dm.TYPE_AAAA
    assert dm.parse_message(wire).questions == [dm.Question(name.rstrip(".") + ".", 28, 1)]


def test_root_name_is_a_single_zero_byte():
    assert dm.encode_name(".") == b"\x00"
    assert dm.encode_name("") == b"\x00"


def test_built_response_agrees_with_dnspython():
    query = dm.build_query("api.example.org", query_id=99)
    response = dm.build_response(query, ["192.0.2.1", "192.0.2.2", "192.0.2.3"], ttl=60)
    assert dm.agrees_with_dnspython(response)
    parsed = dm.parse_message(response)
    assert parsed.is_response and not parsed.truncated and parsed.rcode == "NOERROR"
    assert [r.data for r in parsed.answers] == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert all(r.ttl == 60 and r.name == "api.example.org." for r in parsed.answers)


def test_parses_a_dnspython_response_with_cname_ns_aaaa_and_other_types():
    query = dns.message.make_query("www.example.net.", "A")
    response = dns.message.make_response(query)
    rrset = dns.rrset.from_text
    response.answer.append(rrset("www.example.net.", 30, "IN", "CNAME", "web.example.net."))
    response.answer.append(rrset("web.example.net.", 30, "IN", "A", "198.51.100.7"))
    response.authority.append(rrset("example.net.", 3600, "IN", "NS", "ns1.example.net."))
    response.additional.append(rrset("ns1.example.net.", 3600, "IN", "AAAA", "2001:db8::53"))
    response.additional.append(rrset("ns1.example.net.", 3600, "IN", "TXT", '"hi"'))
    wire = response.to_wire()
    assert b"\xc0" in wire  # dnspython compresses names too
    parsed = dm.parse_message(wire)
    assert dm.agrees_with_dnspython(wire)
    assert [str(r) for r in parsed.answers] == [
        "www.example.net. 30 IN CNAME web.example.net.",
        "web.example.net. 30 IN A 198.51.100.7",
    ]
    assert str(parsed.authority[0]) == "example.net. 3600 IN NS ns1.example.net."
    assert parsed.additional[0].data == "2001:db8::53"
    assert parsed.additional[1].rtype == 16 and parsed.additional[1].data == "026869"


def test_flags_of_a_truncated_nxdomain_response():
    header = dm.HEADER.pack(5, 0x8000 | 0x0200 | 3, 0, 0, 0, 0)
    parsed = dm.parse_message(header)
    assert parsed.truncated and parsed.rcode == "NXDOMAIN"
    assert dm.parse_message(dm.HEADER.pack(5, 0x8000 | 9, 0, 0, 0, 0)).rcode == "9"


def message_with_name(name_bytes: bytes) -> bytes:
    return dm.HEADER.pack(1, 0x8000, 1, 0, 0, 0) + name_bytes + b"\x00\x01\x00\x01"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "the header needs bytes 0..11, message has 0"),
        (message_with_name(b"\xc0\x0c"), "points to 12, not to an earlier name"),
        (message_with_name(b"\x01a\xc0\x0c"), "points to 12"),  # a.a.a.a... forever
        (message_with_name(b"\xc0\x10\x01a\xc0\x0c"), "points to 16"),  # forward
        (message_with_name(b"\x03www")[:15], "label at byte 12 runs past the end"),
        (dm.HEADER.pack(1, 0, 1, 0, 0, 0) + b"\x03www", "name runs past the end at byte 16"),
        (dm.HEADER.pack(1, 0, 1, 0, 0, 0) + b"\xc0", "truncated: compression pointer at byte 12"),
        (message_with_name(b"\x80abc\x00"), "label type 0x80 at byte 12 is reserved"),
        (message_with_name(b"\x03www\x00")[:-2], "question type and class needs bytes"),
        (message_with_name(b"\x00") + b"junk", "4 bytes of garbage after the last record"),
        (message_with_name((b"\x3f" + b"a" * 63) * 4 + b"\x00"), "name longer than 255 bytes"),
    ],
)
def test_malformed_messages_are_rejected_with_a_clear_error(data, error):
    with pytest.raises(dm.DNSFormatError, match=error):
        dm.parse_message(data)


def test_a_two_pointer_loop_is_rejected():
    # Name at 12 is "a" then a pointer to 16; name at 16 is "b" then a pointer back to 12.
    body = b"\x01a\xc0\x10" + b"\x01b\xc0\x0c"
    data = dm.HEADER.pack(1, 0x8000, 1, 0, 0, 0) + body + b"\x00\x01\x00\x01"
    with pytest.raises(dm.DNSFormatError, match="not to an earlier name"):
        dm.parse_message(data)


def test_a_records_with_wrong_length_are_rejected():
    query = dm.build_query("x.test", query_id=1)
    good = dm.build_response(query, ["10.0.0.1"])
    bad = good[:-6] + struct.pack("!H", 5) + b"\x0a\x00\x00\x01\x00"
    with pytest.raises(dm.DNSFormatError, match="an A record has 4 bytes of data, this one 5"):
        dm.parse_message(bad)


def test_every_truncation_of_a_response_is_rejected():
    response = dm.build_response(dm.build_query("www.example.com", query_id=3), ["10.1.2.3"])
    for size in range(len(response)):
        with pytest.raises(dm.DNSFormatError, match="truncated"):
            dm.parse_message(response[:size])


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("a" * 64 + ".com", "is 64 bytes, at most 63"),
        ("www..example.com", "empty label"),
        (".".join(["abcdefghi"] * 26), "261 bytes on the wire, at most 255"),
    ],
)
def test_invalid_names_cannot_be_built(name, error):
    with pytest.raises(dm.DNSFormatError, match=error):
        dm.encode_name(name)


def test_longest_legal_name_is_accepted():
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 255 bytes on the wire
    assert len(dm.encode_name(name)) == 255
    wire = dm.build_query(name, query_id=1)
    assert dm.parse_message(wire).questions[0].name == name + "."
