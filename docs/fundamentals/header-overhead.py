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
# | Layer | Bytes | Source |
# |---|---|---|
# | Ethernet II framing on the wire: preamble and start delimiter 8, header 14, frame check 4, inter-frame gap 12 | 38 | IEEE 802.3 |
# | IPv4 header without options | 20 | [RFC 791](https://www.rfc-editor.org/rfc/rfc791) |
# | TCP header with the timestamps option most stacks send (20 + 12) | 32 | [RFC 9293](https://www.rfc-editor.org/rfc/rfc9293), [RFC 7323](https://www.rfc-editor.org/rfc/rfc7323) |
# | UDP header: source port, destination port, length, checksum | 8 | [RFC 768](https://www.rfc-editor.org/rfc/rfc768) |
# | QUIC short header (1 flag byte, 8-byte connection ID, 2-byte packet number), STREAM frame header (about 4) and the 16-byte AEAD tag, on top of UDP | 8 + 31 | [RFC 9000](https://www.rfc-editor.org/rfc/rfc9000), [RFC 9001](https://www.rfc-editor.org/rfc/rfc9001) |
#
# TCP and UDP here carry no encryption; TLS over TCP adds its own record overhead (about 22 bytes
# per record with TLS 1.3), which QUIC's AEAD tag replaces.

# %%
import matplotlib.pyplot as plt
from matplotlib_inline.backend_inline import set_matplotlib_formats

set_matplotlib_formats("svg")  # sharp at any zoom, and smaller than a PNG
plt.rcParams["svg.fonttype"] = "none"  # keep text as text, not as drawn glyphs

ETHERNET = 8 + 14 + 4 + 12  # preamble+SFD, header, FCS, inter-frame gap
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


def wire_bytes(payload: int, headers: int) -> int:
    """Bytes on the wire to carry `payload` bytes, cut into packets that fit the MTU."""
    per_packet = MTU - headers  # payload that fits in one packet (TCP's MSS, for TCP)
    packets = max(1, -(-payload // per_packet))  # ceiling division
    return payload + packets * (headers + ETHERNET)


def efficiency(payload: int, headers: int) -> float:
    return payload / wire_bytes(payload, headers)


# %% [markdown]
# ## Per-packet cost and the largest payload per packet

# %%
print(f"{'stack':<30}{'headers':>8}{'max payload':>13}")
for name, headers in STACKS.items():
    print(f"{name:<30}{headers + ETHERNET:>8}{MTU - headers:>13}")

# %% [markdown]
# ## Efficiency by payload size
#
# A 1-byte keystroke sent over TCP takes 91 bytes on the wire (1.1% payload); a full-size
# packet is about 95% payload. This is why chatty protocols batch small writes (Nagle's algorithm,
# HTTP/2 and QUIC framing many messages into one packet).

# %%
sizes = [1, 10, 64, 100, 512, 1000, 1448, 10_000, 100_000]
print(f"{'payload (B)':>12}" + "".join(f"{name.split(' ')[0]:>8}" for name in STACKS))
for size in sizes:
    row = "".join(f"{efficiency(size, headers):>8.1%}" for headers in STACKS.values())
    print(f"{size:>12,}" + row)

# %%
payloads = [*range(1, 100), *range(100, 4097, 4)]  # every 4 bytes is enough to see the steps
figure, axes = plt.subplots(figsize=(8, 4))
for name, headers in STACKS.items():
    axes.plot(payloads, [100 * efficiency(p, headers) for p in payloads], label=name)
axes.set_xscale("log")
axes.set_xlabel("application payload (bytes, log scale)")
axes.set_ylabel("payload share of wire bytes (%)")
axes.set_title("Header overhead: small messages pay the most")
axes.grid(True, which="both", alpha=0.3)
axes.legend()
plt.show()

# %% [markdown]
# The saw-tooth after 1,448 bytes (TCP) or 1,472 bytes (UDP) is a second packet starting: its
# headers are paid in full for a few bytes of payload.
#
# ## In an interview
#
# Header overhead matters for **many small messages**: chat presence updates, game state,
# sensor data, metrics. Batch them, or pick a protocol whose framing is light once the
# connection is up (a WebSocket frame header is 2 to 14 bytes; a new HTTP request repeats
# hundreds of bytes of headers). For bulk transfer it is a rounding error.
