"""API errors as real API servers phrase them: `Status` objects with reason, code and details."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body

    @staticmethod
    def _details(group_resource: str, name: str) -> dict[str, Any]:
        """`details` as the API server fills it: name, kind (the plural) and group."""
        kind, _, group = group_resource.partition(".")
        details: dict[str, Any] = {"name": name, "kind": kind}
        if group:
            details["group"] = group
        return details

    @classmethod
    def not_found(cls, group_resource: str, name: str) -> ApiError:
        return cls(
            404,
            "NotFound",
            f'{group_resource} "{name}" not found',
            cls._details(group_resource, name),
        )

    @classmethod
    def already_exists(cls, group_resource: str, name: str) -> ApiError:
        return cls(
            409,
            "AlreadyExists",
            f'{group_resource} "{name}" already exists',
            cls._details(group_resource, name),
        )

    @classmethod
    def conflict(cls, group_resource: str, name: str, why: str = "") -> ApiError:
        why = why or (
            "the object has been modified; please apply your changes to the latest version "
            "and try again"
        )
        return cls(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {group_resource} "{name}": {why}',
            cls._details(group_resource, name),
        )

    @classmethod
    def invalid(cls, group_resource: str, name: str, cause: str) -> ApiError:
        """422 as the API server words it: `Deployment.apps "x" is invalid: field: why`."""
        from daemon.simulator.resources import BY_KEY

        plural, _, group = group_resource.partition(".")
        resource = BY_KEY.get(group_resource)
        kind = resource.kind if resource else plural.removesuffix("s").capitalize()
        field, _, message = cause.partition(": ")
        details: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "causes": [{"message": message, "field": field} if message else {"message": cause}],
        }
        if group:
            details["group"] = group
        return cls(
            422,
            "Invalid",
            f'{kind}.{group} "{name}" is invalid: {cause}'
            if group
            else f'{kind} "{name}" is invalid: {cause}',
            details,
        )

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def expired(cls, message: str) -> ApiError:
        return cls(410, "Expired", message)

    @classmethod
    def method_not_allowed(
        cls, message: str = "the server does not allow this method on the requested resource"
    ) -> ApiError:
        return cls(405, "MethodNotAllowed", message, {})

    @classmethod
    def unsupported_media_type(cls, content_type: str) -> ApiError:
        return cls(
            415,
            "UnsupportedMediaType",
            f'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got "{content_type}")',
        )

    @classmethod
    def server_timeout(cls, message: str) -> ApiError:
        return cls(500, "ServerTimeout", message)

    @classmethod
    def unauthorized(cls) -> ApiError:
        return cls(401, "Unauthorized", "Unauthorized")

    @classmethod
    def forbidden(cls, message: str, name: str, kind: str, group: str = "") -> ApiError:
        details: dict[str, Any] = {"kind": kind}
        if name:
            details["name"] = name
        if group:
            details["group"] = group
        return cls(403, "Forbidden", message, details)
