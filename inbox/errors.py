"""What services raise; `inbox.main` turns each into an HTTP status with the message as `detail`."""

from __future__ import annotations


class InboxError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(InboxError):
    status_code = 401


class InvalidCredentials(InboxError):
    status_code = 401


class PermissionDenied(InboxError):
    status_code = 403


class NotFound(InboxError):
    status_code = 404


class Conflict(InboxError):
    status_code = 409


class InvalidInput(InboxError):
    status_code = 422


class LoginThrottled(InboxError):
    status_code = 429

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class RasaUnavailable(InboxError):
    """Rasa refused or did not answer: the customer did not get the message, nothing was changed here."""

    status_code = 502
