"""What to tell the user when a many-order write (refill, cancel) stopped part-way."""

from __future__ import annotations

from bot.panel.errors import PanelError, PanelUnavailable

SHOWN_IDS = 20


def _ids(ids: tuple[str, ...]) -> str:
    shown = ", ".join(f"#{item}" for item in ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


def interruption_lines(error: PanelError, done: str) -> list[str]:
    """Lines for the ids whose request failed (maybe done, if the outcome is unknown) or never went.

    `done` is the past participle of the action, e.g. "refilled" or "cancelled".
    """
    lines = []
    if error.failed_ids:
        if isinstance(error, PanelUnavailable) and error.outcome_unknown:
            lines.append(
                f"Orders {_ids(error.failed_ids)}: the panel did not answer, so they may or may "
                f"not have been {done}. Check on the panel before trying them again."
            )
        else:
            lines.append(f"Orders {_ids(error.failed_ids)}: not {done} ({error.message}).")
    if error.unsent_ids:
        lines.append(f"Orders {_ids(error.unsent_ids)}: not sent, nothing was {done}.")
    return lines
