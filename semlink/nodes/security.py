"""CURVE between the nodes (``network.security: curve``): only holders of the run's keys connect,
and everything on the wire is encrypted.

The key folder that ``semlink keys generate DIR`` writes, in ZeroMQ's key file format::

    DIR/server.key, DIR/server.key_secret   the bound sides (channel inbound, receiver)
    DIR/client.key, DIR/client.key_secret   the connecting sides (transmitter, channel outbound)
    DIR/authorized/client.key               public keys the bound sides let in

A host needs only what its node uses: the transmitter ``client.key_secret`` and ``server.key``,
the receiver ``server.key_secret`` and ``authorized/``, the channel all of them. Bound sockets
check each connecting client's public key against ``authorized/`` with pyzmq's ZAP
authenticator; a client without an allowed key never completes the handshake, so none of its
bytes reach a node's loop.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from semlink.scenario.schema import ScenarioError

if TYPE_CHECKING:  # zmq loads in the nodes only: the scenario precheck reads the file names here
    import zmq
    from zmq.auth.thread import ThreadAuthenticator

SERVER, CLIENT, AUTHORIZED = "server", "client", "authorized"


class KeyFileError(ScenarioError):
    """A key folder or key file that is missing or unreadable."""


def generate_keys(folder: Path) -> list[Path]:
    """Write a server and a client key pair into ``folder`` and allow the client; returns the files.

    :raises KeyFileError: if ``folder`` already holds keys (they are never overwritten).
    """
    if (folder / f"{SERVER}.key_secret").exists() or (folder / f"{CLIENT}.key_secret").exists():
        raise KeyFileError(f"{folder} already holds keys; remove them or choose another folder")
    import zmq.auth

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # modes set explicitly: whatever the umask, no one else reads or writes a key
    written = []
    for name in (SERVER, CLIENT):
        public, secret = zmq.auth.create_certificates(folder, name)
        Path(secret).chmod(0o600)
        Path(public).chmod(0o644)
        written += [Path(public), Path(secret)]
    allowed = folder / AUTHORIZED
    allowed.mkdir(mode=0o700, exist_ok=True)
    allowed.chmod(0o700)  # whoever writes here lets a client in
    copied = Path(shutil.copy(folder / f"{CLIENT}.key", allowed / f"{CLIENT}.key"))
    copied.chmod(0o644)
    written.append(copied)
    return written


def required_files(folder: Path) -> list[Path]:
    """The files a run with CURVE reads from ``folder`` (all roles on one host)."""
    return [
        folder / f"{SERVER}.key",
        folder / f"{SERVER}.key_secret",
        folder / f"{CLIENT}.key",
        folder / f"{CLIENT}.key_secret",
        folder / AUTHORIZED,
    ]


def load_pair(folder: Path, name: str, secret: bool) -> tuple[bytes, bytes | None]:
    """A key pair from ``folder``: the public key, and the secret one when ``secret``.

    :raises KeyFileError: naming the missing or broken file and how to make one.
    """
    import zmq.auth

    path = folder / f"{name}.key_secret" if secret else folder / f"{name}.key"
    try:
        public, private = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as error:
        reason = "missing" if not path.exists() else f"unreadable ({error})"
        raise KeyFileError(
            f"CURVE key {path} is {reason}; make keys with `semlink keys generate {folder}` "
            "(network.keys names the folder)"
        ) from None
    if secret and private is None:
        raise KeyFileError(
            f"CURVE key {path} holds no secret key; use the .key_secret file `semlink keys generate` wrote"
        )
    return public, private


class Curve:
    """CURVE for the sockets of one node process.

    :param context: the node's ZeroMQ context. :param folder: the key folder.
    """

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], folder: Path) -> None:
        self.context, self.folder = context, folder
        self._authenticator: ThreadAuthenticator | None = None

    def server(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` (before it binds) a CURVE server that lets in only authorised clients."""
        public, secret = load_pair(self.folder, SERVER, secret=True)
        allowed = self.folder / AUTHORIZED
        if not allowed.is_dir():
            raise KeyFileError(f"{allowed} is missing: the bound side needs the clients' public keys there")
        if self._authenticator is None:
            from zmq.auth.thread import ThreadAuthenticator

            self._authenticator = ThreadAuthenticator(self.context)
            self._authenticator.start()
            self._authenticator.configure_curve(domain="*", location=str(allowed))
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        sock.curve_server = True

    def client(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` (before it connects) a CURVE client of the run's server key."""
        public, secret = load_pair(self.folder, CLIENT, secret=True)
        server_public, _ = load_pair(self.folder, SERVER, secret=False)
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        sock.curve_serverkey = server_public

    def close(self) -> None:
        """Stop the authenticator (before the context terminates)."""
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None


class Plain:
    """No security: the default, for loopback and private ``ipc://`` endpoints."""

    def server(self, sock: zmq.Socket[bytes]) -> None:
        """Leave ``sock`` as it is."""

    def client(self, sock: zmq.Socket[bytes]) -> None:
        """Leave ``sock`` as it is."""

    def close(self) -> None:
        """Nothing to stop."""


def node_security(context: zmq.Context[zmq.Socket[bytes]], security: str, keys: str | None) -> Curve | Plain:
    """The security of a node's sockets as the scenario's ``network`` section sets it."""
    if security == "curve":
        if keys is None:
            raise KeyFileError("network.security is curve but network.keys names no key folder; set it")
        return Curve(context, Path(keys).expanduser())
    return Plain()
