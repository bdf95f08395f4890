"""`python -m bot` subcommands, run as real subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from bot.crypto import generate_master_key
from bot.settings import decode_master_key
from tests.support.corebot import DEMO_KEY, ChatUser, make_settings, new_simulator, running_core

ROOT = Path(__file__).resolve().parent.parent


def bot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment for `python -m bot` (no tokens, a database in tmp_path)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
    }
    env.update(extra)
    return env


def run_bot(
    *args: str, env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` to completion, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_help_lists_subcommands(tmp_path: Path) -> None:
    result = run_bot("--help", env=bot_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0
    for name in ("run", "console", "demo", "keygen", "rotate-keys", "simulate-panel"):
        assert name in result.stdout


def test_keygen_prints_a_fresh_valid_key(tmp_path: Path) -> None:
    first = run_bot("keygen", env=bot_env(tmp_path), cwd=tmp_path).stdout.strip()
    second = run_bot("keygen", env=bot_env(tmp_path), cwd=tmp_path).stdout.strip()
    assert len(decode_master_key(first)) == 32
    assert first != second


async def test_simulate_panel_serves_balance(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "simulate-panel",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=bot_env(tmp_path),
        cwd=tmp_path,
    )
    try:
        url = key = ""
        assert process.stdout is not None
        while not (url and key):
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            assert line, "simulator exited early"
            if line.startswith("SIMULATOR_URL="):
                url = line.split("=", 1)[1].strip()
            if line.startswith("SIMULATOR_KEY="):
                key = line.split("=", 1)[1].strip()
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, data={"key": key, "action": "balance"})
        assert answer.json()["currency"] == "USD"
        assert "balance" in answer.json()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def test_rotate_keys_reencrypts_under_the_new_key(tmp_path: Path) -> None:
    async with new_simulator() as simulator:
        old_key = generate_master_key()
        settings = make_settings(tmp_path, simulator.url, encryption_key=old_key)
        async with running_core(settings) as runtime:
            assert "saved" in (await ChatUser(runtime).say(f"/setkey {DEMO_KEY}")).text
        new_key = generate_master_key()
        env = bot_env(
            tmp_path,
            DATABASE_URL=settings.database_url,
            ENCRYPTION_KEY=new_key,
            ENCRYPTION_OLD_KEYS=old_key,
        )
        result = await asyncio.to_thread(run_bot, "rotate-keys", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Re-encrypted 1" in result.stdout
        rotated = make_settings(tmp_path, simulator.url, encryption_key=new_key)
        async with running_core(rotated) as runtime:
            assert "Balance" in (await ChatUser(runtime).say("/balance")).text
