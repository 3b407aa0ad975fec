"""Fixtures of the console browser tests: a real `lanyard up` and a real headless Chromium."""

import email
import email.policy
import os
import pathlib
import re
import base64
import hashlib
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.parse

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("LANYARD_BIN", str(ROOT / "target" / "debug" / "lanyard"))
ARTIFACTS = ROOT / "target" / "browser-artifacts"
PG_URL = os.environ.get("LANYARD_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


class Lanyard:
    """A running installation: its admin-api URL, data directory and environment."""

    def __init__(self, backend, login_approval="password"):
        self.backend = backend
        self.dir = tempfile.mkdtemp(prefix="lanyard-browser-")
        self.env = dict(os.environ)
        self.env.pop("LANYARD_CONFIG", None)
        self.env.update(
            LANYARD_ADMIN_API__BIND="127.0.0.1:0",
            LANYARD_AUTH_API__BIND="127.0.0.1:0",
            LANYARD_DEVICE_API__BIND="127.0.0.1:0",
            LANYARD_LOG__FILTER="warn",
            LANYARD_CONSOLE__SELF_REGISTRATION="true",
            # Most tests are about what comes after the login; the phone's approval of logins
            # has its own test (marked phone_login), with a short approval time to see expiry.
            LANYARD_CONSOLE__LOGIN_APPROVAL=login_approval,
            LANYARD_CONSOLE__LOGIN_APPROVAL_SECONDS="8",
        )
        self.schema = None
        if backend == "postgres":
            self.schema = "b_" + secrets.token_hex(8)
            subprocess.run(["psql", PG_URL, "-qc", f"CREATE SCHEMA {self.schema}"], check=True)
            sep = "&" if "?" in PG_URL else "?"
            self.env["LANYARD_DATABASE__URL"] = f"{PG_URL}{sep}options=-csearch_path%3D{self.schema}"
        self.proc = subprocess.Popen(
            [BIN, "up"], cwd=self.dir, env=self.env, stdout=subprocess.PIPE, text=True
        )
        urls = []
        self.setup_link = None
        for line in self.proc.stdout:
            setup = re.search(r"(https://\S+/console/register\?code=\w+)", line)
            if setup:
                self.setup_link = setup.group(1)
            found = re.search(r"(https://\S+)", line)
            if found and len(urls) < 3:
                urls.append(found.group(1))
            if line.startswith("More in README"):
                break
        assert urls, "lanyard up did not start"
        self.url = urls[0]
        self.device_url = urls[2]
        # The services speak HTTPS with development certificates from the platform CA, which
        # `lanyard up` wrote to data/ca.pem; Python's requests verify against it.
        self.ssl = ssl.create_default_context(cafile=str(pathlib.Path(self.dir) / "data" / "ca.pem"))
        # CLI commands (e.g. `admin invite`) put links to the running console into e-mails.
        self.env["LANYARD_ADMIN_API__PUBLIC_URL"] = self.url
        self.seen_mail = set()

    def cli(self, *args):
        out = subprocess.run(
            [BIN, *args], cwd=self.dir, env=self.env, check=True, capture_output=True, text=True
        )
        return out.stdout.strip()

    def wait_mail(self, to, timeout=30):
        """The text of the next unseen e-mail to `to` (delivered as .eml by the outbox)."""
        deadline = time.time() + timeout
        maildir = pathlib.Path(self.dir) / "data" / "mail"
        while time.time() < deadline:
            for path in sorted(maildir.glob("*.eml"), key=lambda p: p.stat().st_mtime):
                if path.name in self.seen_mail:
                    continue
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if to.lower() in str(message["To"]).lower():
                    self.seen_mail.add(path.name)
                    return message.get_body(preferencelist=("plain",)).get_content()
            time.sleep(0.3)
        raise AssertionError(f"no e-mail to {to} within {timeout} s")

    def stop(self):
        # A clean exit on SIGTERM is tested by tests/e2e.rs; here the installation just has to go.
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        finally:
            if self.schema:
                subprocess.run(["psql", PG_URL, "-qc", f"DROP SCHEMA {self.schema} CASCADE"], check=False)
            shutil.rmtree(self.dir, ignore_errors=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "phone_login: console logins need the phone's approval")


@pytest.fixture(params=BACKENDS)
def lanyard(request):
    phone = request.node.get_closest_marker("phone_login") is not None
    installation = Lanyard(request.param, "phone" if phone else "password")
    yield installation
    installation.stop()


def spki_sha256(lanyard, url=None):
    """Base64 SHA-256 of a service's server key, admin-api's by default (Chromium's
    --ignore-certificate-errors-spki-list then trusts exactly those keys, not every certificate)."""
    host, port = urllib.parse.urlsplit(url or lanyard.url).netloc.rsplit(":", 1)
    pem = ssl.get_server_certificate((host, int(port)), ca_certs=str(pathlib.Path(lanyard.dir) / "data" / "ca.pem"))
    public = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=pem, capture_output=True, text=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=public.encode(), capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture
def browser(lanyard):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="chromium-")
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
        # admin-api (the console) and device-api (the self-service deactivation page).
        f"--ignore-certificate-errors-spki-list={spki_sha256(lanyard)},{spki_sha256(lanyard, lanyard.device_url)}",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def quote(value):
    return urllib.parse.quote(value, safe="")
