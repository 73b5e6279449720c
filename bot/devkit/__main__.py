"""``python -m bot.devkit``: serve a local Slack sandbox holding a simulated organisation, for
pointing a bot at by hand (``SLACK_API_URL``, ``SLACK_BOT_TOKEN``)."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from bot.devkit.sandbox import SlackSandbox
from bot.devkit.simulation import simulate_organisation


def main(argv: list[str] | None = None) -> None:
    """Serve a sandbox holding a simulated organisation until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m bot.devkit", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="xoxb-sandbox")
    parser.add_argument("--people", type=int, default=150)
    parser.add_argument("--teams", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-page-size", type=int, default=1000)
    parser.add_argument("--dump", type=Path, help="write what was posted here on exit")
    args = parser.parse_args(argv)

    org = simulate_organisation(n_people=args.people, n_teams=args.teams, seed=args.seed)
    sandbox = SlackSandbox(args.token, args.host, args.port, max_page_size=args.max_page_size)
    sandbox.add_users(org.users)
    for group_id, members in org.usergroups.items():
        sandbox.add_usergroup(group_id, members)
    sandbox.start()
    print(f"SLACK_API_URL={sandbox.base_url}")
    print(f"SLACK_BOT_TOKEN={sandbox.token}")
    print(f"{len(org.people)} people in {len(org.teams)} teams; Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        if args.dump:
            print(f"wrote {sandbox.dump(args.dump)}")


if __name__ == "__main__":
    main()
