"""The HTTP surface: probes, /metrics, the control API and the status page.

Errors are RFC 7807 `application/problem+json`. Mutations always need credentials
(bearer token from a Secret file, or Kubernetes TokenReview + SubjectAccessReview);
reads only when `api.protect_reads`. No debug or profiling endpoints exist.

(No `from __future__ import annotations` here: FastAPI must evaluate the route
annotations, and the auth dependencies are closures it could not resolve from strings.)
"""

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from daemon import __version__
from daemon.api import catalog_view as view
from daemon.api.auth import TokenAuth
from daemon.api.limits import BodyLimit
from daemon.api.pages import experiment as experiment_page
from daemon.api.pages import run as run_page_html
from daemon.api.pages import status as status_page
from daemon.api.text import SafeHTMLResponse, SafeJSONResponse, UnserializedRoute, text_problem
from daemon.kube.errors import KubeError
from daemon.notify.notifier import notifier_of
from daemon.service import Daemon, TriggerError
from daemon.settings import Settings
from daemon.store.history import StoreError


class ProblemError(Exception):
    def __init__(self, status: int, title: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem_response(status: int, title: str, detail: str, instance: str, **extra: Any) -> Any:
    headers = {"WWW-Authenticate": 'Bearer realm="aftershock"'} if status == 401 else None
    return SafeJSONResponse(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": instance,
            **extra,
        },
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def create_app(daemon: Daemon, settings: Settings, registry: CollectorRegistry) -> FastAPI:  # noqa: PLR0915 - the routes, in one place
    app = FastAPI(
        title="aftershock",
        version=__version__,
        description="Scheduled, guarded chaos for Kubernetes: control API.",
        docs_url=None,
        redoc_url=None,
        default_response_class=SafeJSONResponse,
    )
    # Answers are rendered by the safe response classes only, never by pydantic (which
    # raises on a lone surrogate in stored text): see daemon/api/text.py.
    app.router.route_class = UnserializedRoute
    token_auth = TokenAuth(settings.api.token_file)
    app.add_middleware(BodyLimit)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Any:
        # Logged with its traceback by the server; the client learns nothing internal.
        del exc
        return problem_response(
            500, "Internal Error", "unexpected error; see the daemon's log", request.url.path
        )

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Any:
        return problem_response(exc.status, exc.title, exc.detail, request.url.path, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        return problem_response(exc.status_code, "Error", str(exc.detail), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        errors = [
            {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()
        ]
        return problem_response(
            422, "Invalid Request", "the request is not valid", request.url.path, errors=errors
        )

    def identify(authorization: str | None, verb: str) -> str:
        mode = settings.api.auth
        if mode == "none":
            return "anonymous"
        if mode == "token":
            ok, why = token_auth.check(authorization)
            if not ok:
                status = 503 if why == token_auth.error and token_auth.error else 401
                title = "Auth Not Configured" if status == 503 else "Unauthorized"
                raise ProblemError(status, title, why)
            return "token"
        # Kubernetes mode: the cluster authenticates the token and authorizes the verb.
        if daemon.kube is None:
            raise ProblemError(
                503, "Auth Unavailable", "no Kubernetes API connection for TokenReview"
            )
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ProblemError(401, "Unauthorized", "missing bearer token")
        try:
            review = daemon.kube.review_token(token.strip())
            if not review.get("authenticated"):
                raise ProblemError(
                    401, "Unauthorized", "the Kubernetes API did not authenticate this token"
                )
            user = review.get("user") or {}
            username = str(user.get("username", ""))
            allowed, reason = daemon.kube.review_access(
                username,
                list(user.get("groups") or []),
                verb=verb,
                group=settings.api.review_group,
                resource=settings.api.review_resource,
                namespace=settings.kube.namespace,
            )
        except KubeError as exc:
            raise ProblemError(
                503, "Auth Unavailable", f"TokenReview/SubjectAccessReview failed: {exc.message}"
            ) from None
        if not allowed:
            raise ProblemError(
                403,
                "Forbidden",
                f"{username} may not {verb} {settings.api.review_resource}."
                f"{settings.api.review_group} in namespace {settings.kube.namespace}"
                + (f": {reason}" if reason else ""),
            )
        return username

    def mutation(authorization: Annotated[str | None, Header()] = None) -> str:
        return identify(authorization, "create")

    def reader(authorization: Annotated[str | None, Header()] = None) -> str:
        if not settings.api.protect_reads:
            return "anonymous"
        return identify(authorization, "get")

    # ------------------------------------------------------------------ probes and metrics

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Any:
        if not daemon.scheduler_alive:
            return problem_response(503, "Unhealthy", "the scheduler is not running", "/healthz")
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Any:
        problems = daemon.readiness()
        if problems:
            return problem_response(
                503, "Not Ready", "; ".join(problems), "/readyz", problems=problems
            )
        return {
            "status": "ready",
            "leader": daemon.is_leader(),
            # leading, but the runs a crash interrupted are not all replayed yet: no run starts
            "recovering": daemon.is_leader() and not daemon.recovery.settled(),
        }

    @app.get("/metrics", include_in_schema=False)
    def metrics(_: Annotated[str, Depends(reader)]) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    # ------------------------------------------------------------------ reads

    @app.get("/api/v1/experiments")
    def experiments(_: Annotated[str, Depends(reader)]) -> dict[str, Any]:
        items = [view.experiment_view(daemon, i, e) for i, e in view.snapshot(daemon)]
        state = view.banners(daemon)
        return {
            "experiments": items,
            "halted": state.halted,
            "leader": state.leader,
            "dry_run": state.dry_run,
            "catalog_problems": state.catalog_problems,
        }

    @app.get("/api/v1/experiments/{experiment_id}")
    def experiment(
        experiment_id: str,
        _: Annotated[str, Depends(reader)],
        hours: Annotated[float, Query(gt=0, le=24 * 31)] = 24,
    ) -> dict[str, Any]:
        entry = view.entry(daemon, experiment_id)
        if entry is None:
            raise ProblemError(404, "Not Found", f"no experiment {experiment_id!r}")
        answer = view.experiment_view(daemon, experiment_id, entry)
        answer["upcoming"] = view.upcoming_view(daemon, experiment_id, hours)
        return answer

    @app.get("/api/v1/notifications")
    def notifications(_: Annotated[str, Depends(reader)]) -> dict[str, Any]:
        notifier = notifier_of(daemon.listeners)  # targets are named, URLs never shown
        return {"sinks": notifier.status() if notifier else []}

    @app.get("/api/v1/runs")
    def runs(
        _: Annotated[str, Depends(reader)],
        experiment: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> dict[str, Any]:
        try:
            rows = daemon.store.runs(experiment, limit)
        except StoreError as exc:
            raise ProblemError(503, "History Unavailable", str(exc)) from None
        return {"runs": [r.as_json() for r in rows]}

    @app.get("/api/v1/runs/{run_id}")
    def run(run_id: str, _: Annotated[str, Depends(reader)]) -> dict[str, Any]:
        try:
            found = daemon.store.run(run_id)
        except StoreError as exc:
            raise ProblemError(503, "History Unavailable", str(exc)) from None
        if found is None:
            raise ProblemError(404, "Not Found", f"no run {run_id!r}")
        row, journal = found
        return {**row.as_json(), "journal": journal}

    @app.get("/api/v1/runs/{run_id}/journal")
    def run_journal(run_id: str, _: Annotated[str, Depends(reader)]) -> Any:
        """The journal alone, as a download (the run page links here)."""
        try:
            found = daemon.store.run(run_id)
        except StoreError as exc:
            raise ProblemError(503, "History Unavailable", str(exc)) from None
        if found is None or found[1] is None:
            raise ProblemError(404, "Not Found", f"no journal for run {run_id!r}")
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)[:200]
        return SafeJSONResponse(
            found[1], headers={"Content-Disposition": f'attachment; filename="{name}.json"'}
        )

    # ------------------------------------------------------------------ mutations

    @app.post("/api/v1/experiments/{experiment_id}/runs", status_code=202)
    def run_now(experiment_id: str, who: Annotated[str, Depends(mutation)]) -> dict[str, Any]:
        try:
            run_id = daemon.trigger(experiment_id, by=who)
        except TriggerError as exc:
            raise ProblemError(exc.status, exc.title, exc.detail) from None
        return {"run_id": run_id, "href": f"/api/v1/runs/{run_id}"}

    @app.post("/api/v1/halt")
    async def halt(request: Request, who: Annotated[str, Depends(mutation)]) -> Any:
        # The body is read after authentication: an anonymous caller learns nothing from 422s.
        # Its size is limited before it is read (BodyLimit); nesting is limited by the parser.
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else None
        except RecursionError:
            raise ProblemError(400, "Invalid JSON", "the JSON body is nested too deeply") from None
        except ValueError:
            raise ProblemError(400, "Invalid JSON", "the body is not valid JSON") from None
        reason = body.get("reason") if isinstance(body, dict) else None
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
            raise ProblemError(
                422,
                "Invalid Request",
                'expected a JSON body {"reason": "..."} with 1 to 500 characters',
            )
        why = text_problem(reason)
        if why:
            raise ProblemError(400, "Invalid Text", f"field 'reason' {why}", field="reason")
        # In force before this answers, whatever the history's state; 202 when not recorded yet.
        persisted = await run_in_threadpool(daemon.set_halt, reason.strip(), who)
        answer: dict[str, Any] = {"halted": daemon.halt.reason(), "persisted": persisted}
        if persisted:
            return answer
        answer["detail"] = (
            f"halt in force but not recorded in the run history yet ({daemon.store.error}); "
            "retried until it is; it does not survive a restart before then"
        )
        return SafeJSONResponse(answer, status_code=202)

    @app.post("/api/v1/resume")
    def resume(who: Annotated[str, Depends(mutation)]) -> dict[str, Any]:
        try:
            daemon.resume(who)
        except StoreError as exc:
            raise ProblemError(
                503, "History Unavailable", f"resume not recorded, the halt stays in force: {exc}"
            ) from None
        return {"halted": daemon.halt.reason(), "persisted": True}

    # ------------------------------------------------------------------ pages

    def history_read(what: Any, *args: Any) -> Any:
        try:
            return what(*args)
        except StoreError as exc:
            raise ProblemError(503, "History Unavailable", str(exc)) from None

    @app.get("/", response_class=SafeHTMLResponse, include_in_schema=False)
    def index(
        _: Annotated[str, Depends(reader)],
        tag: Annotated[str | None, Query(max_length=200)] = None,
        namespace: Annotated[str | None, Query(max_length=200)] = None,
    ) -> str:
        cards = [view.card(daemon, i, e) for i, e in view.snapshot(daemon)]
        return status_page.render(
            cards,
            state=view.banners(daemon),
            now=datetime.now(UTC),
            tag=tag or None,
            namespace=namespace or None,
            sinks=notifier.status() if (notifier := notifier_of(daemon.listeners)) else [],
        )

    @app.get(
        "/experiments/{experiment_id}", response_class=SafeHTMLResponse, include_in_schema=False
    )
    def experiment_html(
        experiment_id: str,
        _: Annotated[str, Depends(reader)],
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    ) -> str:
        entry = view.entry(daemon, experiment_id)
        if entry is None:
            raise ProblemError(404, "Not Found", f"no experiment {experiment_id!r}")
        card = view.card(daemon, experiment_id, entry)
        plan = view.schedules(daemon, experiment_id, entry)
        return experiment_page.render(
            card,
            state=view.banners(daemon),
            now=datetime.now(UTC),
            file_text=view.file_text(daemon, entry),
            upcoming=view.fires(daemon, experiment_id, plan.effective, 10),
            limits=view.limits(daemon, entry),
            history=history_read(view.history, daemon, experiment_id, page, 50),
            trend_runs=history_read(view.trend, daemon, experiment_id, 200),
        )

    @app.get("/runs/{run_id}", response_class=SafeHTMLResponse, include_in_schema=False)
    def run_page(run_id: str, _: Annotated[str, Depends(reader)]) -> str:
        found = history_read(daemon.store.run, run_id)
        if found is None:
            raise ProblemError(404, "Not Found", f"no run {run_id!r}")
        row, journal = found
        settings = history_read(daemon.store.run_settings, run_id)
        return run_page_html.render(
            row.as_json(),
            journal,
            now=datetime.now(UTC),
            slo=view.slo_seconds(settings),
            state=view.banners(daemon),
        )

    return app
