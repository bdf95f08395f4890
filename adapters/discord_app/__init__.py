"""The Discord front end (discord.py): slash commands, autocomplete, buttons, modals and DMs.

`adapters.discord_messenger.DiscordAdapter` is the entry point; the modules here hold one idea each:
`commands` (slash command definitions and their sync), `render` (a core Reply as Discord messages),
`forms` (modals for the core's prompts), `interactions` (routing interactions to the core) and
`adapter` (the client's life cycle and the Sender for alerts).
"""
