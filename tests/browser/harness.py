"""The browser tests' tools: a real `matcher serve` on a free port with its own SQLite file,
Debian's Chromium driven by Playwright (never a downloaded browser), axe-core's check, and
screenshots when MATCHER_SCREENSHOTS names a folder."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, Route, expect

log = logging.getLogger(__name__)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: axe-core impacts that fail a test (WCAG 2.1 AA: no serious or critical violation).
FAILING_IMPACTS = ("serious", "critical")
#: The password of every user the browser tests make.
PASSWORD = "een goed wachtwoord"


def chromium_path() -> str:
    """Debian's Chromium on the PATH. Missing is an error, never a skip: `.ci/run` installs it
    (`apt-get install -y chromium`); elsewhere deselect with `-m 'not browser'`."""
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("the browser tests need Debian's Chromium on the PATH: "
                           "apt-get install -y chromium (or deselect them: -m 'not browser')")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    db: Path
    log: Path
    process: subprocess.Popen[bytes]

    def matcher(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A `matcher` command on this server's database (for example `user create`)."""
        return subprocess.run([sys.executable, "-m", "matcher", *args], input=stdin,
                              capture_output=True, text=True, env=os.environ | {
                                  "DATABASE_URL": f"sqlite:///{self.db}"}, check=False)

    def user(self, name: str, role: str, *organisations: str) -> str:
        """A user with PASSWORD, made by `matcher user create` (the README's first step)."""
        orgs = [a for o in organisations for a in ("--organisation", o)]
        done = self.matcher("user", "create", "--name", name, "--role", role, *orgs,
                            "--password-stdin", stdin=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


def _wait_ready(server: Server, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server.process.poll() is not None:
            break
        try:
            if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    tail = server.log.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"matcher serve did not answer /health within {timeout} s:\n{tail}")


@contextmanager
def serve(folder: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`matcher serve` on 127.0.0.1 and a free port, on a new SQLite file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    port, db, log_path = free_port(), folder / "matcher.db", folder / "serve.log"
    # tests/conftest.py sets MATCHER_LANG=en for the library's tests; the pages keep their own
    # default (Dutch) unless `env` names a language
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("DATABASE_URL", "MATCHER_LANG")
                   and not k.startswith("MATCHER_DATABASE")}
    environment |= {"MATCHER_RATE_PER_SECOND": "1000", "MATCHER_RATE_BURST": "1000"} | (env or {})
    with log_path.open("ab") as out:
        p = subprocess.Popen([sys.executable, "-m", "matcher", "serve", "--host", "127.0.0.1",
                              "--port", str(port), "--db", str(db)],
                             env=environment, stdout=out, stderr=out, cwd=folder)
    server = Server(f"http://127.0.0.1:{port}", db, log_path, p)
    try:
        _wait_ready(server)
        yield server
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=30)


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


@dataclass
class Tab:
    """A page on the server, with what went wrong in it: console errors, uncaught exceptions,
    and requests to any other origin (refused, so a page that needs the internet fails)."""

    page: Page
    origin: str
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)

    def _route(self, route: Route, request: Request) -> None:
        if request.url.startswith(self.origin + "/") or request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.external_requests.append(request.url)
            route.abort()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def watch(self) -> Tab:
        self.page.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.console_errors.append(f"uncaught: {exc}"))
        return self

    def assert_clean(self) -> None:
        assert self.external_requests == [], f"requests to other origins: {self.external_requests}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


def log_in(tab: Tab, name: str, password: str = PASSWORD) -> None:
    """The login form, filled in by its labels as a person would."""
    page = tab.page
    page.goto("/login")
    page.get_by_label("Naam").fill(name)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()
    expect(page.locator(".account")).to_contain_text(name)


def serious_axe_violations(page: Page, context: Any = None) -> list[dict[str, Any]]:
    """axe-core (the copy in the axe-playwright-python package) on the page as it is now; the
    violations of impact serious or critical, each with the elements concerned."""
    results = Axe().run(page, context=context, options={"resultTypes": ["violations"]})
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]]}
            for v in results.response["violations"] if v["impact"] in FAILING_IMPACTS]


def assert_no_serious_axe_violations(page: Page) -> None:
    found = serious_axe_violations(page)
    assert found == [], f"axe-core on {page.url}: {found}"


def screenshot(page: Page, name: str) -> Path | None:
    """Writes `NAME.png` (the full page) into the folder MATCHER_SCREENSHOTS names, if set:
    `MATCHER_SCREENSHOTS=docs/screenshots pytest tests/browser -m browser`."""
    folder = os.environ.get("MATCHER_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    log.info("screenshot %s", path)
    return path
