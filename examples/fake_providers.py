"""Serve the bundled fake YouTube, Gmail, Instagram and TikTok APIs, to try the example app.

    python -m examples.fake_providers [--port 8900] [--items 200] [--callback URL]

It prints the ``SYNCJOBS_*`` settings that point syncjobs at the fakes, their consent pages
included, and the example app's OAuth callback (export them in the shells of the web app and
the workers), then one token set per provider, ready for ``POST /accounts``. With those
settings ``GET /connect/{provider}`` of the example app goes through the fake's consent page,
which approves at once. The fakes keep their data in memory: tokens are valid as long as this
process runs. Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from syncjobs.testing.fakes import CombinedFakes


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--items", type=int, default=200, help="items per provider")
    parser.add_argument(
        "--callback",
        default="http://127.0.0.1:8000/oauth/callback",
        help="the example app's OAuth callback URL (SYNCJOBS_OAUTH_REDIRECT_URI)",
    )
    args = parser.parse_args(argv)

    fakes = CombinedFakes(items_per_provider=args.items)
    server = make_server("127.0.0.1", args.port, fakes, server_class=_Server, handler_class=_Quiet)
    root = f"http://127.0.0.1:{server.server_port}"
    print("# syncjobs settings for the fakes: export them for the web app and the workers")
    for name in fakes.fakes:
        for key, value in dataclasses.asdict(fakes.config(name, root)).items():
            if value is not None:
                print(f"export SYNCJOBS_{name.upper()}__{key.upper()}={shlex.quote(str(value))}")
    print(f"export SYNCJOBS_OAUTH_REDIRECT_URI={shlex.quote(args.callback)}")
    print("\n# one token set per provider, for POST /accounts")
    for name, fake in fakes.fakes.items():
        tokens = fake.issue_tokens().model_dump(mode="json", exclude_none=True)
        print(f"{name}: {json.dumps(tokens)}")
    print(f"\nserving the fakes at {root} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
