"""``semlink keys generate DIR``: CURVE key pairs for ``network.security: curve``."""

from __future__ import annotations

import argparse
from pathlib import Path

from semlink.cli.common import OneLineParser


def add_keys(sub: argparse._SubParsersAction[OneLineParser]) -> None:
    """``semlink keys generate``."""
    keys = sub.add_parser("keys", help="make CURVE keys for authenticated, encrypted links")
    verbs = keys.add_subparsers(dest="verb", required=True, metavar="VERB")
    generate = verbs.add_parser("generate", help="write a server and a client key pair into a new folder")
    generate.add_argument("folder", type=Path, help="folder to create (mode 0700); existing keys are never overwritten")
    generate.set_defaults(handler=run_keys_generate)


def run_keys_generate(args: argparse.Namespace) -> int:
    """Write the key pairs and say which host needs which file."""
    from semlink.nodes.security import generate_keys

    written = generate_keys(args.folder)
    for path in written:
        print(path)
    print(
        f"use them with network: {{security: curve, keys: {args.folder}}}; on separate hosts the transmitter "
        "needs client.key_secret and server.key, the receiver server.key_secret and authorized/, "
        "the channel all of them"
    )
    return 0
