# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "dnspython~=2.9",
# ]
# ///
"""Build a DNS query and parse a DNS response from scratch (RFC 1035, section 4), byte by byte.

Shows what a resolver really sends: a 12-byte header, a question (a name as length-prefixed
labels, a type, a class), and how a response packs its names with compression pointers. The
parser is checked against dnspython's (``dns.message.from_wire``) on the same bytes, and it
rejects what a careless parser would loop on or read past: compression pointers that loop or
point forward, truncated messages, oversize labels and names.

Run: python dns_message.py
(no network needed: it builds a query, parses a compressed response and shows what is rejected)
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

import dns.message
import dns.rdatatype

TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_AAAA = 1, 2, 5, 28
CLASS_IN = 1
TYPE_NAMES = {TYPE_A: "A", TYPE_NS: "NS", TYPE_CNAME: "CNAME", TYPE_AAAA: "AAAA"}
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
MAX_LABEL, MAX_NAME = 63, 255  # RFC 1035 section 2.3.4
HEADER = struct.Struct("!HHHHHH")  # id, flags, qdcount, ancount, nscount, arcount


class DNSFormatError(ValueError):
    """The bytes are not a valid DNS message; the message says what is wrong and where."""


# --8<-- [start:encode]
def encode_name(name: str) -> bytes:
    """'www.example.com' -> b'\\x03www\\x07example\\x03com\\x00' (length-prefixed labels)."""
    labels = name.rstrip(".").split(".") if name.strip(".") else []
    wire = b""
    for label in labels:
        raw = label.encode("ascii")
        if not raw:
            raise DNSFormatError(f"empty label in {name!r}")
        if len(raw) > MAX_LABEL:
            raise DNSFormatError(f"label {label[:10]!r}... is {len(raw)} bytes, at most 63")
        wire += bytes([len(raw)]) + raw
    wire += b"\x00"  # the root: every name ends with an empty label
    if len(wire) > MAX_NAME:
        raise DNSFormatError(f"name is {len(wire)} bytes on the wire, at most 255")
    return wire


def build_query(name: str, qtype: int = TYPE_A, query_id: int = 0, recursion: bool = True) -> bytes:
    flags = 0x0100 if recursion else 0  # QR=0 (a query), opcode 0, RD (recursion desired)
    header = HEADER.pack(query_id, flags, 1, 0, 0, 0)  # one question, no records
    return header + encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)
# --8<-- [end:encode]


@dataclass(frozen=True)
class Question:
    name: str
    qtype: int
    qclass: int


@dataclass(frozen=True)
class Record:
    name: str
    rtype: int
    rclass: int
    ttl: int
    data: str  # an address or a name, as text; other types as hex

    def __str__(self) -> str:
        kind = TYPE_NAMES.get(self.rtype, str(self.rtype))
        return f"{self.name} {self.ttl} IN {kind} {self.data}"


@dataclass(frozen=True)
class Message:
    id: int
    flags: int
    questions: list[Question] = field(default_factory=list)
    answers: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)

    @property
    def is_response(self) -> bool:
        return bool(self.flags & 0x8000)

    @property
    def truncated(self) -> bool:
        return bool(self.flags & 0x0200)  # TC: the answer did not fit, ask again over TCP

    @property
    def rcode(self) -> str:
        return RCODE_NAMES.get(self.flags & 0x000F, str(self.flags & 0x000F))


class Reader:
    """Reads a message front to back; every read checks the bytes are there."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise DNSFormatError(
                f"truncated: {what} needs bytes {self.offset}..{end - 1}, "
                f"message has {len(self.data)}"
            )
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    # --8<-- [start:name]
    def name(self) -> str:
        """A name: labels, ending with a zero byte or a 2-byte pointer to an earlier name.

        A pointer (top two bits 11) says "the rest of this name is at offset N". RFC 1035 4.1.4
        says it points to a *prior* occurrence, so a pointer that does not go strictly backwards
        is rejected: that alone makes loops impossible. The 255-byte limit bounds the rest.
        """
        labels: list[str] = []
        length = 1  # the final zero byte
        position = self.offset  # where we read now; follows pointers
        lowest = self.offset  # every pointer must jump below everything read so far for this name
        end_of_name = None  # where the message continues after the first pointer
        while True:
            if position >= len(self.data):
                raise DNSFormatError(f"truncated: name runs past the end at byte {position}")
            size = self.data[position]
            if size & 0xC0 == 0xC0:
                if position + 1 >= len(self.data):
                    raise DNSFormatError(f"truncated: compression pointer at byte {position}")
                target = struct.unpack_from("!H", self.data, position)[0] & 0x3FFF
                if target >= lowest:
                    raise DNSFormatError(
                        f"compression pointer at byte {position} points to {target}, "
                        "not to an earlier name (a loop or a forward reference)"
                    )
                if end_of_name is None:
                    end_of_name = position + 2
                position = lowest = target
                continue
            if size & 0xC0:
                kind = size & 0xC0
                raise DNSFormatError(f"label type 0x{kind:02x} at byte {position} is reserved")
            position += 1
            if size == 0:
                break
            if position + size > len(self.data):
                raise DNSFormatError(f"truncated: label at byte {position - 1} runs past the end")
            length += size + 1
            if length > MAX_NAME:
                raise DNSFormatError(f"name longer than {MAX_NAME} bytes")
            labels.append(self.data[position : position + size].decode("ascii", "replace"))
            position += size
        self.offset = end_of_name if end_of_name is not None else position
        return ".".join(labels) + "."
    # --8<-- [end:name]

    def record(self) -> Record:
        name = self.name()
        rtype, rclass, ttl, rdlength = struct.unpack("!HHIH", self.take(10, "record fields"))
        start = self.offset
        rdata = self.take(rdlength, "record data")
        if rtype == TYPE_A:
            if rdlength != 4:
                raise DNSFormatError(f"an A record has 4 bytes of data, this one {rdlength}")
            data = str(ipaddress.IPv4Address(rdata))
        elif rtype == TYPE_AAAA and rdlength == 16:
            data = str(ipaddress.IPv6Address(rdata))
        elif rtype in (TYPE_CNAME, TYPE_NS):
            inner = Reader(self.data[: start + rdlength])  # a name inside data may use pointers
            inner.offset = start
            data = inner.name()
        else:
            data = rdata.hex()
        return Record(name, rtype, rclass, ttl, data)


def parse_message(data: bytes) -> Message:
    reader = Reader(data)
    query_id, flags, qd, an, ns, ar = HEADER.unpack(reader.take(12, "the header"))
    questions = []
    for _ in range(qd):
        name = reader.name()
        qtype, qclass = struct.unpack("!HH", reader.take(4, "question type and class"))
        questions.append(Question(name, qtype, qclass))
    sections = [[reader.record() for _ in range(count)] for count in (an, ns, ar)]
    if reader.offset != len(data):
        raise DNSFormatError(f"{len(data) - reader.offset} bytes of garbage after the last record")
    return Message(query_id, flags, questions, *sections)


# --8<-- [start:response]
def build_response(query: bytes, addresses: list[str], ttl: int = 300) -> bytes:
    """An authoritative answer with one A record per address, each name a pointer to byte 12."""
    query_id = struct.unpack_from("!H", query)[0]
    question = query[12:]
    flags = 0x8000 | 0x0400 | (query[2] & 0x01) << 8  # QR (response), AA (authoritative), RD copied
    header = HEADER.pack(query_id, flags, 1, len(addresses), 0, 0)
    answers = b"".join(
        struct.pack("!HHHIH", 0xC000 | 12, TYPE_A, CLASS_IN, ttl, 4)  # 0xC00C: "the name at 12"
        + ipaddress.IPv4Address(address).packed
        for address in addresses
    )
    return header + question + answers
# --8<-- [end:response]


def hexdump(data: bytes, width: int = 16) -> list[str]:
    return [data[i : i + width].hex(" ") for i in range(0, len(data), width)]


def agrees_with_dnspython(wire: bytes) -> bool:
    """Parse the same bytes with dnspython and compare every question and answer."""
    theirs = dns.message.from_wire(wire)
    ours = parse_message(wire)
    their_answers = sorted(
        f"{rrset.name} {rrset.ttl} IN {dns.rdatatype.to_text(rrset.rdtype)} {rdata}"
        for rrset in theirs.answer
        for rdata in rrset
    )
    their_questions = [(str(q.name), int(q.rdtype), int(q.rdclass)) for q in theirs.question]
    return (
        theirs.id == ours.id
        and theirs.flags == ours.flags
        and their_questions == [(q.name, q.qtype, q.qclass) for q in ours.questions]
        and their_answers == sorted(str(record) for record in ours.answers)
    )


def demo() -> None:
    query = build_query("www.example.com", TYPE_A, query_id=0x1234)
    print(f"query for www.example.com A, {len(query)} bytes:")
    for line in hexdump(query):
        print(f"  {line}")
    print("  header 12 bytes | name 17 bytes (3 www 7 example 3 com 0) | type 1 (A), class 1 (IN)")

    # 192.0.2.0/24 is for documentation (RFC 5737): no real host answers there
    response = build_response(query, ["192.0.2.14", "192.0.2.15"])
    print(f"response with 2 answers, {len(response)} bytes (each answer names 'c0 0c': byte 12)")
    parsed = parse_message(response)
    print(f"  id 0x{parsed.id:04x}, response={parsed.is_response}, rcode {parsed.rcode}, "
          f"truncated={parsed.truncated}")
    for record in parsed.answers:
        print(f"  {record}")
    print(f"dnspython parses the same bytes the same way: {agrees_with_dnspython(response)}")

    print("what the parser rejects:")
    loop = HEADER.pack(1, 0x8000, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    forward = HEADER.pack(1, 0x8000, 1, 0, 0, 0) + b"\xc0\x20" + b"\x00\x01\x00\x01"
    bad_inputs = {
        "5 bytes": response[:5],
        "cut in a name": response[:20],
        "cut in an answer": response[:-3],
        "pointer to itself": loop,
        "pointer forward": forward,
    }
    for what, data in bad_inputs.items():
        try:
            parse_message(data)
        except DNSFormatError as error:
            print(f"  {what:<18} {error}")
    for name in ["a" * 64 + ".com", ".".join(["abcdefghi"] * 26)]:
        try:
            encode_name(name)
        except DNSFormatError as error:
            print(f"  {'build ' + name[:8] + '...':<18} {error}")


if __name__ == "__main__":
    demo()
