"""`python -m bot` subcommands, run as real subprocesses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from bot.crypto import generate_master_key
from bot.settings import decode_master_key
from tests.support.corebot import DEMO_KEY, ChatUser, make_settings, new_simulator, running_core
from tests.support.process import bot_env, run_bot, running_bot


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
    async with running_bot(bot_env(tmp_path), tmp_path, "simulate-panel", "--port", "0") as bot:
        # Each wait fails with "exited early" if the simulator ends before printing the line.
        url_line = await bot.stdout.wait_for_line(
            lambda line: line.startswith("SIMULATOR_URL="), 30
        )
        key_line = await bot.stdout.wait_for_line(
            lambda line: line.startswith("SIMULATOR_KEY="), 30
        )
        url = url_line.split("=", 1)[1].strip()
        key = key_line.split("=", 1)[1].strip()
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, data={"key": key, "action": "balance"})
        assert answer.json()["currency"] == "USD"
        assert "balance" in answer.json()
        assert await bot.stop(timeout=30) == 0


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
