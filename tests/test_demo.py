"""The console demo driven by a piped transcript, as a newcomer would try it."""

from __future__ import annotations

import re
from pathlib import Path

from bot.panel.simulator import build_catalogue
from tests.support.process import bot_env, run_bot


def run_demo(transcript: str, tmp_path: Path) -> str:
    result = run_bot("demo", env=bot_env(tmp_path), cwd=tmp_path, stdin=transcript)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_balance_transcript_prints_balance_and_exits(tmp_path: Path) -> None:
    output = run_demo("balance\n", tmp_path)
    assert re.search(r"Balance: 99\.\d+ USD", output)


def test_full_journey_transcript(tmp_path: Path) -> None:
    catalogue = build_catalogue(1, 300)
    default = catalogue.first_matching(type="Default", cancel=True, dripfeed=False)
    comments = catalogue.first_of_type("Custom Comments")
    lines = "\n".join(f"comment number {i}" for i in range(max(comments.min, 2)))
    transcript = "\n".join(
        [
            "setkey demo-key-0001",
            "balance",
            "services followers",
            f"order {default.id}",
            "https://t.me/demo_channel",
            str(default.min),
            "1",  # Confirm
            f"order {comments.id}",
            "https://instagram.com/p/demo",
            lines,
            "",  # a blank line ends the list
            "1",  # Confirm
            "status 2",
            "refill 1",
            "/cancel 2",
            "1",  # Yes, cancel
            "orders",
            "",
        ]
    )
    output = run_demo(transcript, tmp_path)
    assert "Key …0001 saved" in output
    assert re.search(r"Balance: 99\.\d+ USD", output)
    assert "services match “followers”" in output
    assert "Order placed: #2" in output
    assert "Order placed: #3" in output
    assert f"Quantity: {max(comments.min, 2)}" in output
    assert "Status: Pending [░░░░░░░░░░] 0%" in output
    assert "refill #1 requested" in output
    assert "Order #2: cancel requested" in output
    assert "Your orders" in output
    assert "> setkey\n" in output
    assert output.count("demo-key-0001") == 1  # only in the intro, never echoed back
