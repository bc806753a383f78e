"""tgwatch: watch Telegram news channels, match posts against watch rules, alert once per story."""

__version__ = "0.1.0"
