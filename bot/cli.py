"""The `viber-bot` command line: run, demo, simulate-bsg and the operator commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bot.domain.errors import ConfigurationError, InputError, StorageError

Handler = Callable[[argparse.Namespace], int]


def _fail(message: str) -> int:
    print(f"viber-bot: {message}", file=sys.stderr)
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    from bot.settings import load_settings

    settings = load_settings()  # first: a bad setting is reported before the heavy imports

    from bot import runtime
    from bot.app import ViberBot, serve
    from bot.logs import configure_logging

    configure_logging(level=settings.log_level, fmt=settings.log_format, secrets=settings.secrets())
    bot = ViberBot(settings)
    runtime.run(serve(bot))
    return 0


def cmd_simulate_bsg(args: argparse.Namespace) -> int:
    import logging

    from bot.devtools.simulator import serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve_forever(
        args.host,
        args.port,
        lifecycles=args.lifecycles,
        time_scale=args.time_scale,
        shape=args.shape,
        quirky=args.quirky,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.devtools.demo import run_demo

    return run_demo(keep_db=args.keep_db, fast=not args.slow)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the command line, only the operator command on it is built in full
    (the listing needs no more, and `viber-bot --help` stays quick)."""
    parser = argparse.ArgumentParser(
        prog="viber-bot",
        description="Send Viber business messages through BSG from Slack and watch them land.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP on HOST:PORT)",
        description="Run the bot. Settings come from the environment and .env (see README).",
    )
    run.set_defaults(handler=cmd_run)

    demo = sub.add_parser(
        "demo",
        help="the whole flow on this machine: no Slack workspace, no BSG account, no network",
        description=(
            "Start a BSG simulator and a local Slack stand-in, drive the real app through its "
            "HTTP endpoint, and print what the channel would show."
        ),
    )
    demo.add_argument("--keep-db", metavar="FILE", help="keep the demo's database at FILE")
    demo.add_argument("--slow", action="store_true", help="real-time lifecycles (minutes)")
    demo.set_defaults(handler=cmd_demo)

    sim = sub.add_parser(
        "simulate-bsg",
        help="serve a BSG simulator (no money spent): BSG_API_URL=http://127.0.0.1:PORT/rest",
        description="A local server speaking BSG's REST API, with scripted message lifecycles.",
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8080)
    sim.add_argument(
        "--lifecycles", help="YAML file of lifecycles (see bot/devtools/lifecycles.example.yaml)"
    )
    sim.add_argument("--time-scale", type=float, default=1.0, help="0.1 runs lifecycles 10x faster")
    sim.add_argument("--shape", choices=["result", "array"], default="result")
    sim.add_argument("--quirky", action="store_true", help="mix BSG's published quirky shapes")
    sim.set_defaults(handler=cmd_simulate_bsg)

    from bot import ops

    words = [word for word in (sys.argv[1:] if argv is None else argv) if not word.startswith("-")]
    ops.add_commands(sub, words[0] if words else "")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except InputError as error:
        from bot.slack.render.input_errors import input_problem

        return _fail(input_problem(error))
    except (ConfigurationError, StorageError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
