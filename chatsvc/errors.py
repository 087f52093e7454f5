"""Refusals the hub raises; adapters turn them into their own error replies."""

from __future__ import annotations


class ChatError(Exception):
    """A client asked for something it may not have; C{str()} is shown to it."""


class NotRegistered(ChatError):
    def __init__(self) -> None:
        super().__init__("register first: send #yourname")


class NameTaken(ChatError):
    def __init__(self, name: str) -> None:
        super().__init__(f"name taken: {name}")
        self.name = name


class BadNameError(ChatError):
    def __init__(self, why: str) -> None:
        super().__init__(f"bad name: {why}")


class NoSuchUser(ChatError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no such user: {name}")
        self.name = name


class EmptyMessage(ChatError):
    def __init__(self) -> None:
        super().__init__("empty message")
