"""Talk to a running Home Assistant the way its frontend does: onboarding, login, config flows."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import json
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

import aiohttp

ONBOARDING_STEPS = frozenset({"user", "core_config", "analytics", "integration"})


class HomeAssistantApiError(RuntimeError):
    """Home Assistant answered with an error status or an unexpected body."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        """Keep the HTTP status or the websocket error code, when there was one."""
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, kw_only=True)
class Login:
    """The demo's Home Assistant user."""

    name: str
    username: str
    password: str
    language: str


class HomeAssistantApi:
    """A small synchronous client of Home Assistant's HTTP API (stdlib only)."""

    def __init__(self, base_url: str) -> None:
        """Point the client at ``base_url`` (e.g. http://127.0.0.1:8123)."""
        self.base_url = base_url.rstrip("/")
        self.client_id = f"{self.base_url}/"
        self.token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
    ) -> Any:
        """Send a request and return the decoded JSON (or text) of a 2xx answer."""
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 - a local http URL we built
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                text = response.read().decode()
                kind = response.headers.get_content_type()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:300]
            raise HomeAssistantApiError(
                f"{method} {path}: HTTP {err.code} {detail}", status=err.code
            ) from err
        return json.loads(text) if kind == "application/json" else text

    def is_up(self) -> bool:
        """Return whether Home Assistant has started and serves its frontend."""
        try:
            # Answers 200 before and after onboarding, unlike the auth and onboarding views.
            self.request("GET", "/manifest.json")
        except HomeAssistantApiError, OSError:
            return False
        return True

    def onboarding_done(self) -> set[str]:
        """Return the onboarding steps already done."""
        try:
            steps = self.request("GET", "/api/onboarding")
        except HomeAssistantApiError as err:
            # Once onboarding is complete, Home Assistant no longer serves its views.
            if err.status == 404:
                return set(ONBOARDING_STEPS)
            raise
        return {step["step"] for step in steps if step["done"]}

    def _token_from_code(self, code: str) -> None:
        tokens = self.request(
            "POST",
            "/auth/token",
            form={"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
        )
        self.token = tokens["access_token"]

    def onboard(self, login: Login) -> None:
        """Complete every onboarding step a person would, creating the owner ``login``."""
        done = self.onboarding_done()
        if "user" not in done:
            created = self.request(
                "POST",
                "/api/onboarding/users",
                body={
                    "client_id": self.client_id,
                    "name": login.name,
                    "username": login.username,
                    "password": login.password,
                    "language": login.language,
                },
            )
            self._token_from_code(created["auth_code"])
        else:
            self.log_in(login)
        for step in ("core_config", "analytics"):
            if step not in done:
                self.request("POST", f"/api/onboarding/{step}", body={})
        if "integration" not in done:
            self.request(
                "POST",
                "/api/onboarding/integration",
                body={
                    "client_id": self.client_id,
                    "redirect_uri": f"{self.client_id}?auth_callback=1",
                },
            )

    def log_in(self, login: Login) -> None:
        """Log in through the login flow, as the frontend's login page does."""
        flow = self.request(
            "POST",
            "/auth/login_flow",
            body={
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.client_id}?auth_callback=1",
            },
        )
        result = self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            body={
                "client_id": self.client_id,
                "username": login.username,
                "password": login.password,
            },
        )
        if result.get("type") != "create_entry":
            raise HomeAssistantApiError(f"login failed: {result.get('errors')}")
        self._token_from_code(result["result"])

    def websocket_command(self, command: dict[str, Any]) -> Any:
        """Send one command over the websocket API and return its result."""

        async def send() -> Any:
            url = self.base_url.replace("http", "ws", 1) + "/api/websocket"
            async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
                await ws.receive_json()  # auth_required
                await ws.send_json({"type": "auth", "access_token": self.token})
                if (auth := await ws.receive_json())["type"] != "auth_ok":
                    raise HomeAssistantApiError(f"websocket authentication: {auth}")
                await ws.send_json({"id": 1, **command})
                reply = await ws.receive_json()
            if not reply.get("success"):
                error = reply.get("error") or {}
                raise HomeAssistantApiError(f"{command['type']}: {error}", code=error.get("code"))
            return reply.get("result")

        return asyncio.run(send())

    def config_entries(self, domain: str) -> list[dict[str, Any]]:
        """Return the config entries of ``domain`` with their state."""
        return list(self.request("GET", f"/api/config/config_entries/entry?domain={domain}"))

    def _run_flow(
        self,
        path: str,
        handler: Any,
        steps: list[dict[str, Any]],
        allowed_aborts: tuple[str, ...] = (),
        **start: str,
    ) -> dict[str, Any]:
        """Start a flow at ``path`` and answer its forms with ``steps`` in order.

        The flow must create its entry, or abort for one of ``allowed_aborts``. ``start`` goes
        with the handler in the request that starts the flow (``entry_id`` to reconfigure one).
        """
        result = self.request("POST", path, body={"handler": handler, **start})
        for answer in steps:
            result = self._after_progress(path, result)
            if result.get("type") not in ("form", "menu"):  # a menu's answer: next_step_id
                break
            if result.get("errors"):
                raise HomeAssistantApiError(f"{handler} flow: {result['errors']}")
            result = self.request("POST", f"{path}/{result['flow_id']}", body=answer)
        result = self._after_progress(path, result)
        if result.get("type") == "abort" and result.get("reason") in allowed_aborts:
            return dict(result)
        if result.get("type") != "create_entry":
            raise HomeAssistantApiError(f"{handler} flow ended with {result}")
        return dict(result)

    def _after_progress(
        self, path: str, result: dict[str, Any], timeout_s: float = 400
    ) -> dict[str, Any]:
        """Return the step after a progress step (a meter being awaited), as the UI waits."""
        deadline = time.monotonic() + timeout_s
        while result.get("type") in ("progress", "progress_done"):
            if time.monotonic() > deadline:
                raise HomeAssistantApiError(f"flow still in progress after {timeout_s} s")
            if result["type"] == "progress":
                time.sleep(0.5)
            # As the frontend does: GET goes on with the flow without answering a form.
            result = self.request("GET", f"{path}/{result['flow_id']}")
        return result

    def run_config_flow(self, domain: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
        """Add an entry of ``domain`` through its config flow; return the entry."""
        return dict(self._run_flow("/api/config/config_entries/flow", domain, steps)["result"])

    def run_options_flow(self, entry_id: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
        """Answer an entry's options flow (its Configure button) with ``steps``."""
        return self._run_flow("/api/config/config_entries/options/flow", entry_id, steps)

    def reconfigure_entry(self, entry: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        """Reconfigure ``entry`` (as listed by `config_entries`) through its flow."""
        self._run_flow(
            "/api/config/config_entries/flow",
            entry["domain"],
            steps,
            ("reconfigure_successful",),
            entry_id=entry["entry_id"],
        )

    def run_subentry_flow(
        self,
        entry_id: str,
        subentry_type: str,
        steps: list[dict[str, Any]],
        allowed_aborts: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Add a subentry (a device of a home, say) through its flow; return the flow's result."""
        return self._run_flow(
            "/api/config/config_entries/subentries/flow",
            [entry_id, subentry_type],
            steps,
            allowed_aborts,
        )
