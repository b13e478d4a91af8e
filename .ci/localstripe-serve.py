"""Serves localstripe (a stateful fake of Stripe's API) for the Stripe connector's tests.

localstripe's own command listens on every interface and reloads /tmp/localstripe.pickle; this
starts its app on 127.0.0.1 only, on a port the kernel picks (no race for a free port), from an
empty store, and writes the port to the file named by the first argument once it listens.
"""

import socket
import sys

from aiohttp import web
from localstripe import server


def main():
    port_file = sys.argv[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    async def announce(_app):
        with open(port_file, "w") as f:
            f.write(f"{port}\n")

    server.app.on_startup.append(announce)
    web.run_app(server.app, sock=sock, print=None)


if __name__ == "__main__":
    main()
