"""Domain errors: each names what is wrong so a handler can tell the user."""

from __future__ import annotations


class DomainError(Exception):
    """Base for every rule the domain refuses."""


class IllegalTransition(DomainError):
    """The action is not allowed from the order's current status (or for its service)."""

    def __init__(self, status: str, action: str, service: str | None = None) -> None:
        self.status = status
        self.action = action
        self.service = service
        suffix = f" for service {service}" if service else ""
        super().__init__(f"action {action!r} is not allowed in status {status!r}{suffix}")


class NotPermitted(DomainError):
    """The actor's roles do not allow the action."""

    def __init__(self, action: str, roles: frozenset[str]) -> None:
        self.action = action
        self.roles = roles
        super().__init__(f"roles {sorted(roles)} may not perform {action!r}")


class ConcurrentModification(DomainError):
    """Somebody else changed the order first; the change was not applied."""


class OrderNotFound(DomainError):
    """No order has that id, reference or number."""
