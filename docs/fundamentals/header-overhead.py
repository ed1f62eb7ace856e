# %% [markdown]
# # Header overhead
#
# Every layer wraps the payload in its own header, and those bytes are paid on **every packet**,
# whatever the payload's size. This page computes what fraction of the bytes on the wire is
# actually application data, for TCP, UDP and QUIC over IPv4 and Ethernet.
#
# It is a notebook: the code below runs every time the site is built, and the table and plot are
# its real output. The header sizes come from the standards:
#
# ```mermaid
# flowchart TB
#     accTitle: What one packet costs on an Ethernet wire
#     accDescr: The payload gets a TCP or UDP header (QUIC adds its own inside UDP), then a 20-byte IPv4 header, then a 14-byte Ethernet header and a 4-byte frame check; a frame shorter than 64 bytes is padded to 64; the preamble and the gap between frames add 20 byte times more.
#     P["payload: n bytes"] --> T["+ TCP 32, or UDP 8<br/>(QUIC: UDP 8 + 31)"]
#     T --> I["+ IPv4 header 20"]
#     I --> E["+ Ethernet header 14<br/>and frame check 4"]
#     E --> M["padded to 64<br/>if shorter"]
#     M --> W["+ preamble 8, gap 12:<br/>byte times on the wire"]
# ```
#
# | Layer | Bytes | Source |
# |---|---|---|
# | Ethernet II framing on the wire: preamble and start delimiter 8, header 14, frame check 4, inter-frame gap 12 | 38 | IEEE 802.3 |
# | Ethernet's minimum frame, header and frame check included: a shorter one is padded | 64 | IEEE 802.3 (`minFrameSize`, 512 bits) |
# | IPv4 header without options | 20 | [RFC 791](https://www.rfc-editor.org/rfc/rfc791) |
# | TCP header with the timestamps option most stacks send (20 + 12) | 32 | [RFC 9293](https://www.rfc-editor.org/rfc/rfc9293), [RFC 7323](https://www.rfc-editor.org/rfc/rfc7323) |
# | UDP header: source port, destination port, length, checksum | 8 | [RFC 768](https://www.rfc-editor.org/rfc/rfc768) |
# | QUIC short header (1 flag byte, 8-byte connection ID, 2-byte packet number), STREAM frame header (about 4) and the 16-byte AEAD tag, on top of UDP | 8 + 31 | [RFC 9000](https://www.rfc-editor.org/rfc/rfc9000), [RFC 9001](https://www.rfc-editor.org/rfc/rfc9001) |
#
# TCP and UDP here carry no encryption; TLS over TCP adds its own record overhead (about 22 bytes
# per record with TLS 1.3), which QUIC's AEAD tag replaces.
#
# The minimum frame matters for tiny payloads: Ethernet pads a frame to 64 bytes, so an IP packet
# shorter than 46 bytes costs as much as a 46-byte one. A UDP datagram with up to 18 bytes of
# payload always takes 84 byte times, which is what the OSI page's `encapsulation.py` prints for
# its 13-byte message; TCP's and QUIC's headers are long enough that their frames never need
# padding.

# %% tags=["remove-input"]
# Set-up the page does not show: plots in the site's style, and where the programs are.
from pathlib import Path

from docs_tools import plots

plots.use_in_notebook()
SNIPPETS = Path(plots.__file__).resolve().parent.parent / "snippets"

# %%
import re

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter, ScalarFormatter

PREAMBLE, ETHERNET_HEADER, FCS, GAP = 8, 14, 4, 12  # preamble+SFD, header, frame check, gap
ETHERNET = PREAMBLE + ETHERNET_HEADER + FCS + GAP
MIN_FRAME = 64  # header + payload + FCS; a shorter frame is padded up to it
IPV4 = 20
TCP = 20 + 12  # with the timestamps option
UDP = 8
QUIC = 1 + 8 + 2 + 4 + 16  # short header, STREAM frame header, AEAD tag
MTU = 1500  # Ethernet's payload limit: the IP packet must fit in it

STACKS = {
    "TCP / IPv4 / Ethernet": IPV4 + TCP,
    "UDP / IPv4 / Ethernet": IPV4 + UDP,
    "QUIC / UDP / IPv4 / Ethernet": IPV4 + UDP + QUIC,
}


def frame_on_wire(ip_packet: int) -> int:
    """Byte times one IP packet takes on the wire: preamble, the frame (padded), the gap."""
    frame = max(ETHERNET_HEADER + ip_packet + FCS, MIN_FRAME)
    return PREAMBLE + frame + GAP


def wire_bytes(payload: int, headers: int) -> int:
    """Bytes on the wire to carry `payload` bytes, cut into packets that fit the MTU."""
    per_packet = MTU - headers  # payload that fits in one packet (TCP's MSS, for TCP)
    full, rest = divmod(payload, per_packet)
    pieces = [per_packet] * full + ([rest] if rest or not full else [])
    return sum(frame_on_wire(headers + piece) for piece in pieces)


def efficiency(payload: int, headers: int) -> float:
    return payload / wire_bytes(payload, headers)


# %% [markdown]
# ## Per-packet cost and the largest payload per packet

# %%
print(f"{'stack':<30}{'headers':>8}{'max payload':>13}")
for name, headers in STACKS.items():
    print(f"{name:<30}{headers + ETHERNET:>8}{MTU - headers:>13}")

# %% [markdown]
# The OSI page's program sends a 13-byte message in a UDP datagram and prints what it costs on the
# wire. The same count here, checked against that program's transcript at every build:

# %%
transcript = (SNIPPETS / "fundamentals" / "encapsulation.txt").read_text()  # the OSI page's
shown, carried = map(int, re.search(r"= (\d+) byte times to carry (\d+)", transcript).groups())
ours = wire_bytes(carried, IPV4 + UDP)
assert ours == shown, f"encapsulation.py says {shown}, this page {ours}"
print(f"{carried}-byte UDP payload: {ours} byte times here, {shown} in encapsulation.py")
for size in (1, 18, 19):
    print(f"{size:>2}-byte UDP payload: {wire_bytes(size, IPV4 + UDP)} byte times")

# %% [markdown]
# ## Efficiency by payload size
#
# A 1-byte keystroke sent over TCP takes 91 bytes on the wire (1.1% payload); over UDP it takes
# 84, all of them padding and headers but one. A full-size packet is about 95% payload. This is
# why chatty protocols batch small writes (Nagle's algorithm, HTTP/2 and QUIC framing many
# messages into one packet).

# %%
sizes = [1, 10, 64, 100, 512, 1000, 1448, 10_000, 100_000]
print(f"{'payload (B)':>12}" + "".join(f"{name.split(' ')[0]:>8}" for name in STACKS))
for size in sizes:
    row = "".join(f"{efficiency(size, headers):>8.1%}" for headers in STACKS.values())
    print(f"{size:>12,}" + row)

# %%
payloads = [*range(1, 100), *range(100, 4097, 4)]  # every 4 bytes is enough to see the steps
figure, axes = plt.subplots(figsize=(4.2, 3.8), num=(  # num: the figure's description
    "Line chart: payload share of the bytes on the wire against payload size, for TCP, UDP and "
    "QUIC. All three climb from a few percent for tiny payloads to about 95 percent near 1,400 "
    "bytes, dip each time a new packet starts, and QUIC stays a few points below the others."))
for name, headers in STACKS.items():
    axes.plot(payloads, [100 * efficiency(p, headers) for p in payloads], label=name)
axes.set_xscale("log")
axes.xaxis.set_major_formatter(ScalarFormatter())  # 1000, not 10 to the 3
axes.xaxis.set_minor_formatter(NullFormatter())
axes.set_xlabel("payload (bytes, log scale)")
axes.set_ylabel("payload share of wire bytes (%)")
axes.set_title("Small messages pay the most")
axes.grid(True, which="both", alpha=0.3)
axes.legend(loc="upper left")
figure.tight_layout()
plt.show()

# %% [markdown]
# The saw-tooth after 1,448 bytes (TCP) or 1,472 bytes (UDP) is a second packet starting: its
# headers are paid in full for a few bytes of payload. At the far left, the UDP curve starts
# flat: below 19 bytes of payload the frame is padded, so fewer bytes do not cost less.
#
# ## Trade-offs
#
# - **Batching saves bytes and costs latency.** Several messages in one packet pay the headers
#   once, but the first message waits for the others (Nagle's algorithm holds small writes until
#   the previous one is acknowledged, which is why interactive protocols turn it off).
# - **Encryption is paid per packet.** TLS records and QUIC's AEAD tag add 16 to 22 bytes to
#   every packet, for confidentiality and integrity that no one should give up on a network
#   they do not control.
# - **Bigger packets cut overhead, if every hop agrees.** Jumbo frames (a 9000-byte MTU) bring
#   the header share under 1% inside a data centre, but every switch and host on the path must
#   support them; on the Internet, 1500 bytes is what you can count on.
#
# <div class="admonition tip">
# <p class="admonition-title">In an interview</p>
# <p>Header overhead matters for <strong>many small messages</strong>: chat presence updates,
# game state, sensor data, metrics. Batch them, or pick a protocol whose framing is light once
# the connection is up (a WebSocket frame header is 2 to 14 bytes; a new HTTP request repeats
# hundreds of bytes of headers). For bulk transfer it is a rounding error.</p>
# </div>
