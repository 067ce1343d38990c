"""loopback.py - the listening socket of the tests' fake NATS servers
(tests/nats/fake_js.py, tests/nats/no_pong.py)."""
import os
import socket


def listen(port, portfile):
    """A socket listening on 127.0.0.1:port (0: any free port), its port
    written to portfile once it listens (whole: renamed into place)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    return srv
