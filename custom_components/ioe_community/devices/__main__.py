r"""Probe a Modbus device once, as the integration would read it, and print JSON.

    python -m custom_components.ioe_community.devices probe --profile eastron_sdm630 \
        --host 192.168.1.50 [--port 502] [--rtu-over-tcp] --unit 1
    python -m custom_components.ioe_community.devices probe --profile eastron_sdm120 \
        --serial /dev/ttyUSB0 --baudrate 9600 --unit 1

Prints ``{"values": {"<key>": {"value": x, "unit": "..."}}, "errors": [...]}``; exits 0 when
something was read, 1 when nothing was, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .modbus import Endpoint, Transport
from .probe import probe
from .profile import available_profiles


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.ioe_community.devices",
        description="Read a Modbus device once with an IoE Community profile.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    probe = commands.add_parser("probe", help="read every register of a profile once")
    probe.add_argument("--profile", required=True, choices=sorted(available_profiles()))
    where = probe.add_mutually_exclusive_group(required=True)
    where.add_argument("--host")
    where.add_argument("--serial", metavar="PORT")
    probe.add_argument("--port", type=int, default=502)
    probe.add_argument("--rtu-over-tcp", action="store_true", help="RTU framing over TCP")
    probe.add_argument("--baudrate", type=int, default=9600)
    probe.add_argument("--unit", type=int, default=1)
    probe.add_argument("--timeout", type=float, default=3.0)
    return parser


async def run_probe(args: argparse.Namespace) -> dict[str, object]:
    """Read the device once; return the values with their units and the errors."""
    if args.serial:
        endpoint = Endpoint(
            transport=Transport.SERIAL, serial_port=args.serial, baudrate=args.baudrate
        )
    else:
        transport = Transport.RTU_OVER_TCP if args.rtu_over_tcp else Transport.TCP
        endpoint = Endpoint(transport=transport, host=args.host, port=args.port)
    result = await probe(
        available_profiles()[args.profile],
        endpoint,
        args.unit,
        every_value=True,
        timeout_s=args.timeout,
    )
    units = {r.key: r.unit for r in result.profile.values}
    return {
        "values": {
            key: {"value": value, "unit": units[key]}
            for key, value in result.values.items()
            if key in units
        },
        "errors": [error.detail for error in result.errors],
    }


def main() -> int:
    """Run the command line."""
    args = _parser().parse_args()
    result = asyncio.run(run_probe(args))
    print(json.dumps(result, indent=2, ensure_ascii=False))  # noqa: T201 - a command line
    return 0 if result["values"] else 1


if __name__ == "__main__":
    sys.exit(main())
