"""Exit with a one-line message when the port `make serve` wants is taken.

Usage: python scripts/port_is_free.py PORT
"""

import socket
import sys

port = int(sys.argv[1])
with socket.socket() as probe:
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        sys.exit(f"Port {port} is in use (another `make serve`?). "
                 f"Stop it, or serve on another port: make serve PORT={port + 1}")
