"""``semlink channel curve`` and ``semlink channel tables``: the radio's tools beside the channel node."""

from __future__ import annotations

import argparse
import math
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from semlink.channel.phy.offline.curve import CurveRow


def int_list(text: str) -> list[int]:
    """argparse type for ``1,2,4``."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} must be comma-separated integers") from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one value")
    return values


def snr_range(text: str) -> list[float]:
    """argparse type for ``START:STOP:STEP`` (inclusive) or ``a,b,c`` in dB."""
    try:
        if ":" in text:
            start, stop, step = (float(p) for p in text.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            count = int((stop - start) / step + 1e-9) + 1  # never past STOP
            return [round(start + i * step, 6) for i in range(count)]
        return [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} must be START:STOP:STEP or a,b,c (dB)") from None


def add_tables(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``semlink channel tables``."""
    from semlink.channel.phy.offline.build import DEFAULT_BLOCKS, DEFAULT_MCS

    tables = verbs.add_parser("tables", help="compute the BLER tables of the phy model with the link-level chain")
    tables.add_argument("--out", type=Path, required=True, help="JSON file to write (rewritten as it goes)")
    tables.add_argument("--mcs", type=int_list, default=list(DEFAULT_MCS), help="MCS indices (default %(default)s)")
    tables.add_argument(
        "--blocks", type=int_list, default=list(DEFAULT_BLOCKS), help="code-block sizes in bits (default %(default)s)"
    )
    tables.add_argument("--seed", type=int, default=0, help="seed of the simulation (default 0)")
    tables.add_argument("--step", type=float, default=0.25, help="SNR step in dB (default 0.25)")
    tables.add_argument("--max-blocks", type=int, default=200, help="blocks per SNR point at most (default 200)")
    tables.set_defaults(handler=run_tables)


def run_tables(args: argparse.Namespace) -> int:
    """Build the tables."""
    from semlink.channel.phy.mcs import mcs
    from semlink.channel.phy.offline.build import build_tables

    for index in args.mcs:
        mcs(index)
    if args.step <= 0 or args.max_blocks < 1:
        raise ValueError(f"--step {args.step} must be > 0 and --max-blocks {args.max_blocks} at least 1")
    if any(b < 32 or b > 8448 for b in args.blocks):
        raise ValueError(f"--blocks {args.blocks}: block sizes must be in 32..8448 bits")
    command = "semlink " + " ".join(shlex.quote(a) for a in args.argv)
    build_tables(args.out, args.mcs, args.blocks, args.seed, args.step, args.max_blocks, command)
    print(f"wrote {args.out}")
    return 0


def add_curve(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``semlink channel curve``."""
    curve = verbs.add_parser("curve", help="BLER and BER against SNR for one MCS: curve.csv and curve.png")
    curve.add_argument("--model", default="awgn", choices=["awgn", "rayleigh"], help="channel (default awgn)")
    curve.add_argument("--mcs", type=int, default=4, help="MCS index of TS 38.214 table 2 (default 4: QPSK 0.59)")
    curve.add_argument(
        "--snr", type=snr_range, default=snr_range("0:6:0.5"), help="Es/N0 in dB, START:STOP:STEP or a,b"
    )
    curve.add_argument("--coding", choices=["ldpc", "none"], default="ldpc", help="5G LDPC (default) or uncoded QAM")
    curve.add_argument("--block-bits", type=int, default=1024, help="information bits per block (default 1024)")
    curve.add_argument("--blocks", type=int, default=500, help="blocks per SNR at most (default 500)")
    curve.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    curve.add_argument("--out", type=Path, required=True, help="folder for curve.csv and curve.png")
    curve.set_defaults(handler=run_curve)


def run_curve(args: argparse.Namespace) -> int:
    """Simulate and write the curve, a line per SNR as it goes."""
    from semlink.channel.phy.mcs import mcs
    from semlink.channel.phy.offline.curve import curve, write_curve

    scheme = mcs(args.mcs)
    if not 32 <= args.block_bits <= 8448:
        raise ValueError(f"--block-bits {args.block_bits} must be in 32..8448")
    if args.blocks < 1:
        raise ValueError(f"--blocks {args.blocks} must be at least 1")
    coding = "uncoded" if args.coding == "none" else f"LDPC rate {scheme.code_rate:.3f}, k={args.block_bits}"
    title = f"{args.model}, MCS {scheme.index}: {scheme.modulation}, {coding}"
    print(title)
    rows = curve(
        scheme,
        args.snr,
        args.model,
        args.coding,
        args.block_bits,
        max_blocks=args.blocks,
        seed=args.seed,
        on_row=lambda r: print(describe(r)),
    )
    written = write_curve(rows, args.out, title)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def describe(row: CurveRow) -> str:
    """One progress line of a curve."""
    text = f"  SNR {row.snr_db:6.2f} dB (Eb/N0 {row.ebno_db:6.2f} dB):"
    if row.blocks:
        text += f" BLER {row.bler:.4g} of {row.blocks} blocks,"
    text += f" BER {row.ber:.4g}"
    return text if math.isnan(row.ber_theory) else text + f" (closed form {row.ber_theory:.4g})"


def add_channel_tools(parser: argparse.ArgumentParser) -> None:
    """The ``curve`` and ``tables`` verbs of ``semlink channel``."""
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    add_curve(verbs)
    add_tables(verbs)


TOOLS = ("curve", "tables")
"""Words after ``semlink channel`` that name a tool rather than a scenario file."""


def is_tool(argv: Sequence[str]) -> bool:
    """Whether ``argv`` (without the program) is ``channel curve ...`` or ``channel tables ...``."""
    return len(argv) >= 2 and argv[0] == "channel" and argv[1] in TOOLS


def tool_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The parser of ``semlink channel curve|tables``."""
    parser = parser_class(prog="semlink channel", description="The radio's tools: BLER/BER curves and BLER tables.")
    add_channel_tools(parser)
    return parser


def main_tools(argv: Sequence[str], parser_class: type[argparse.ArgumentParser]) -> argparse.Namespace:
    """Parse ``channel curve|tables ...`` (``argv`` without the program name)."""
    args = tool_parser(parser_class).parse_args(list(argv[1:]))
    args.argv = list(argv)
    return args
