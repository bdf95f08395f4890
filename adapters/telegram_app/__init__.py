"""Parts of the Telegram adapter; `adapters.telegram_messenger.TelegramAdapter` puts them together.

Imports inside this package are absolute (`from telegram import …` is python-telegram-bot), so the
package name never shadows the library.
"""
