"""The root of every refusal the services give.

A ``DomainError`` carries a stable ``code`` (listed in docs/errors.md), a one-line message
for people and the identifier it is about. The CLI prints the message and exits non-zero;
the API turns it into RFC 9457 problem+json. Subclasses say which kind of refusal it is.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the system refuses, with a stable code and the offending identifier."""

    code = "invalid"

    def __init__(self, message: str, *, subject: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.subject = subject
        if code is not None:
            self.code = code


class NotFound(DomainError):
    """The identifier names nothing the system knows."""

    code = "not_found"


class Conflict(DomainError):
    """The request clashes with what is stored (a duplicate, a state that forbids it)."""

    code = "conflict"


class Forbidden(DomainError):
    """The acting principal has no right to do this (ITP Art. 8.12 among others)."""

    code = "forbidden"
