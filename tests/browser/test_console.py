"""The console end to end in a real browser: an administrator is invited, registers, activates,
logs in, creates a profile with limited rights, invites a second administrator with it, and that
administrator is refused what the profile forbids. The account history shows it all and its .xlsx
export opens in openpyxl (a reader Lanyard did not write)."""

import datetime
import io
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

import pathlib

import openpyxl
import pytest
from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoAlertPresentException, WebDriverException

from conftest import screenshot

PASSWORD = "correct horse battery staple"
FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "crates" / "identity" / "tests" / "fixtures"


def fill(driver, **fields):
    for name, value in fields.items():
        element = driver.find_element(By.NAME, name)
        element.clear()
        element.send_keys(value)


def wait_for_new_page(old, timeout=15):
    """Waits until `old` (the previous page's root element) is gone from the document."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            old.tag_name
        except WebDriverException:
            return
        time.sleep(0.05)
    raise AssertionError("the page did not change")


def submit(driver, form_action=None):
    """Submits the page's form and waits until the next page has replaced it."""
    selector = f"form[action='{form_action}'] button[type=submit]" if form_action else "main form button[type=submit]"
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, selector).click()
    wait_for_new_page(old)


def assert_no_console_errors(driver):
    """Refused pages (403), a refused login (401) and forms sent back with field errors (422)
    answer so on purpose; anything else logged as severe (a script error, a resource that failed
    to load, a Content-Security-Policy violation) is a defect."""
    intended = ("status of 401", "status of 403", "status of 409", "status of 422")
    severe = [
        entry for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        and not (entry["source"] == "network" and any(s in entry["message"] for s in intended))
    ]
    assert not severe, severe


def register_and_activate(lanyard, driver, address, name):
    body = lanyard.wait_mail(address)
    link = re.search(r"(https://\S+/console/register\?code=\w+)", body).group(1)
    register_with(lanyard, driver, link, address, name)


def register_with(lanyard, driver, link, address, name):
    driver.get(link)
    assert driver.find_element(By.NAME, "code").get_attribute("value")
    fill(driver, email=address, fullName=name, password=PASSWORD, password2=PASSWORD)
    submit(driver)
    assert "Activate" in driver.title, driver.page_source
    code = re.search(r"your activation code is (\w+)", lanyard.wait_mail(address)).group(1)
    fill(driver, email=address, code=code)
    submit(driver)
    assert "Your account is active" in driver.page_source


def log_in(lanyard, driver, address):
    driver.get(lanyard.url + "/console/login")
    fill(driver, email=address, password=PASSWORD)
    submit(driver)
    assert "Dashboard" in driver.title, driver.page_source


def log_out(driver):
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form[action='/console/logout'] button").click()
    wait_for_new_page(old)
    assert "Log in" in driver.title


def test_invited_administrator_with_a_limited_profile_is_refused_what_it_forbids(lanyard, browser):
    driver = browser
    org = lanyard.cli("org", "create", "--name", "Acme", "--email", "contact@acme.example")
    lanyard.cli("admin", "invite", "--account", org, "--email", "ann@acme.example")

    register_and_activate(lanyard, driver, "ann@acme.example", "Ann Admin")
    screenshot(driver, f"{lanyard.backend}-01-login")
    # A wrong password is refused on the form.
    driver.get(lanyard.url + "/console/login")
    fill(driver, email="ann@acme.example", password="not the password at all")
    submit(driver)
    assert "not correct" in driver.page_source
    log_in(lanyard, driver, "ann@acme.example")
    screenshot(driver, f"{lanyard.backend}-02-dashboard")

    # A profile that may only view end users.
    driver.get(lanyard.url + "/console/profiles/new")
    fill(driver, name="Helpdesk")
    driver.find_element(By.ID, "r_end_users_view").click()
    screenshot(driver, f"{lanyard.backend}-03-profile-form")
    submit(driver)
    assert "Profiles" in driver.title, (driver.current_url, driver.find_element(By.ID, "name").get_attribute("value"))
    assert "Helpdesk" in driver.page_source and "End users: view" in driver.page_source

    # Account settings: a bad value is named next to its field, a good one is saved.
    driver.get(lanyard.url + "/console/settings")
    fill(driver, invitationExpirationHours="0")
    submit(driver)
    assert "between 1 and 8760" in driver.find_element(By.ID, "invitationExpirationHours-error").text
    fill(driver, invitationExpirationHours="48", name="Acme Corp", manageableAliasRegex="[unclosed")
    submit(driver)
    assert "not a valid regular expression" in driver.find_element(By.ID, "manageableAliasRegex-error").text
    fill(driver, manageableAliasRegex="^[a-z]+$", maxDeviceInactivityDays="90", deletedUserEmail="hr@acme.example")
    submit(driver)
    assert "Saved." in driver.page_source and "Acme Corp" in driver.page_source
    assert driver.find_element(By.ID, "maxDeviceInactivityDays").get_attribute("value") == "90"

    # An end user, so the list has something to show.
    driver.get(lanyard.url + "/console/users/new")
    fill(driver, userId="alice", fullName="Alice Example", email="alice@localhost")
    submit(driver)
    assert driver.find_element(By.ID, "email-error").text, "the field error is shown next to the field"
    fill(driver, email="alice@acme.example")
    submit(driver)
    assert "alice@acme.example" in driver.page_source
    screenshot(driver, f"{lanyard.backend}-04-users")

    # Invite Bob with the Helpdesk profile.
    driver.get(lanyard.url + "/console/administrators/invite")
    fill(driver, email="bob@acme.example")
    for option in driver.find_elements(By.CSS_SELECTOR, "#profile option"):
        if option.text == "Helpdesk":
            option.click()
    submit(driver)
    assert "Invitation sent to bob@acme.example" in driver.page_source
    driver.get(lanyard.url + "/console/administrators")
    assert "bob@acme.example" in driver.page_source and "Invited" in driver.page_source
    screenshot(driver, f"{lanyard.backend}-05-administrators")
    log_out(driver)

    register_and_activate(lanyard, driver, "bob@acme.example", "Bob Builder")
    log_in(lanyard, driver, "bob@acme.example")
    nav = driver.find_element(By.CSS_SELECTOR, "nav").text
    assert "End users" in nav and "Administrators" not in nav and "Profiles" not in nav
    driver.get(lanyard.url + "/console/users")
    assert "alice@acme.example" in driver.page_source
    assert "Add end user" not in driver.page_source
    for forbidden in ["/console/users/new", "/console/administrators", "/console/profiles/new", "/console/history"]:
        driver.get(lanyard.url + forbidden)
        assert "Not allowed" in driver.title, (forbidden, driver.page_source)
    screenshot(driver, f"{lanyard.backend}-06-refused")
    driver.get(lanyard.url + "/console")
    log_out(driver)

    # Ann sees every change in the account history, and exports it.
    log_in(lanyard, driver, "ann@acme.example")
    driver.get(lanyard.url + "/console/history")
    page = driver.page_source
    for action in ["Profile created: Helpdesk", "Administrator invited: bob@acme.example",
                   "End user created: alice", "Administrator activated: bob@acme.example", "Logged out"]:
        assert action in page, action
    screenshot(driver, f"{lanyard.backend}-07-history")
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    request = urllib.request.Request(lanyard.url + "/console/history/export.xlsx", headers={"Cookie": cookies})
    with urllib.request.urlopen(request, context=lanyard.ssl) as response:
        workbook = openpyxl.load_workbook(io.BytesIO(response.read()))
    sheet = workbook["Account History"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header_at = next(i for i, row in enumerate(rows) if row[:4] == ["Time Stamp", "Page", "Action", "Performed By"])
    actions = [row[2] for row in rows[header_at + 1:]]
    assert "Profile created: Helpdesk" in actions
    assert any(a.startswith("Administrator invited: bob@acme.example") for a in actions)

    # Ann manages Bob: disable (he cannot log in), reactivate, give him the Administrator profile.
    driver.get(lanyard.url + "/console/administrators")
    driver.find_element(By.LINK_TEXT, "bob@acme.example").click()
    bob_id = driver.current_url.rsplit("/", 1)[-1]
    assert driver.find_element(By.ID, "admin-profile").text == "Helpdesk"
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "admin-disable").click()
    wait_for_new_page(old)
    assert driver.find_element(By.ID, "admin-status").text == "Disabled"
    driver.get(lanyard.url + "/console/login")
    fill(driver, email="bob@acme.example", password=PASSWORD)
    submit(driver)
    assert "disabled" in driver.page_source, "a disabled administrator cannot log in"
    log_in(lanyard, driver, "ann@acme.example")
    driver.get(lanyard.url + f"/console/administrators/{bob_id}")
    for option in driver.find_elements(By.CSS_SELECTOR, "#profile option"):
        if option.text == "Administrator":
            option.click()
    submit(driver, f"/console/administrators/{bob_id}/rights")
    assert driver.find_element(By.ID, "admin-profile").text == "Administrator"
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "admin-reactivate").click()
    wait_for_new_page(old)
    assert driver.find_element(By.ID, "admin-status").text == "Active"
    screenshot(driver, f"{lanyard.backend}-11-administrator")
    # The Helpdesk profile is unused now: it can be edited, then deleted.
    driver.get(lanyard.url + "/console/profiles")
    driver.find_element(By.LINK_TEXT, "Helpdesk").click()
    driver.find_element(By.ID, "r_devices_view").click()
    submit(driver)
    assert "Devices: view" in driver.page_source
    driver.find_element(By.LINK_TEXT, "Helpdesk").click()
    submit(driver, driver.current_url.replace(lanyard.url, "") + "/delete")
    assert "Helpdesk" not in driver.page_source
    # Her own page offers no way to change herself.
    driver.get(lanyard.url + "/console/administrators")
    driver.find_element(By.LINK_TEXT, "ann@acme.example").click()
    assert not driver.find_elements(By.ID, "admin-disable") and not driver.find_elements(By.ID, "admin-delete")
    # An invitation code is created, then withdrawn.
    driver.get(lanyard.url + "/console/administrators/invite")
    submit(driver)
    code = driver.find_element(By.ID, "invitation-code").text
    driver.get(lanyard.url + "/console/administrators")
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, f"withdraw-{code[:8]}").click()
    wait_for_new_page(old)
    assert code[:8] not in driver.page_source

    # Dark mode and the absence of JavaScript errors.
    driver.get(lanyard.url + "/console")
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.LINK_TEXT, "Dark mode").click()
    wait_for_new_page(old)
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("class") == "dark"
    screenshot(driver, f"{lanyard.backend}-08-dark")
    assert_no_console_errors(driver)


def test_forms_without_a_valid_csrf_token_are_refused(lanyard):
    data = b"csrf=forged&email=x%40y.example&password=whatever"
    request = urllib.request.Request(lanyard.url + "/console/login", data=data, method="POST")
    try:
        urllib.request.urlopen(request, context=lanyard.ssl)
        raise AssertionError("a forged login form was accepted")
    except urllib.error.HTTPError as refused:
        refused.close()
        assert refused.code == 403


def test_forgotten_password_and_login_email_change(lanyard, browser):
    driver = browser
    org = lanyard.cli("org", "create", "--name", "Globex", "--email", "contact@globex.example")
    lanyard.cli("admin", "invite", "--account", org, "--email", "carol@globex.example")
    register_and_activate(lanyard, driver, "carol@globex.example", "Carol Chief")

    driver.get(lanyard.url + "/console/login")
    driver.find_element(By.LINK_TEXT, "Forgot your password?").click()
    fill(driver, email="carol@globex.example")
    submit(driver)
    assert "Check your e-mail" in driver.page_source
    link = re.search(r"(https://\S+/console/reset-password\?token=\w+)", lanyard.wait_mail("carol@globex.example")).group(1)
    driver.get(link)
    new_password = "a completely different sentence"
    fill(driver, password=new_password, password2=new_password)
    submit(driver)
    assert "Password changed" in driver.page_source
    driver.get(link)
    fill(driver, password=new_password, password2=new_password)
    submit(driver)
    assert "expired or been used" in driver.page_source, "a reset link works once"

    driver.get(lanyard.url + "/console/login")
    fill(driver, email="carol@globex.example", password=new_password)
    submit(driver)
    assert "Dashboard" in driver.title
    assert_no_console_errors(driver)

    driver.get(lanyard.url + "/console/me")
    fill(driver, currentPassword="wrong wrong wrong", newPassword=PASSWORD, newPassword2=PASSWORD)
    submit(driver, "/console/me/password")
    assert driver.find_element(By.ID, "currentPassword-error").text == "is not correct"
    fill(driver, newEmail="carol.chief@globex.example", emailPassword="not my password")
    submit(driver, "/console/me/email")
    assert driver.find_element(By.ID, "emailPassword-error").text == "is not correct"
    fill(driver, newEmail="carol.chief@globex.example", emailPassword=new_password)
    submit(driver, "/console/me/email")
    assert "confirmation link is on its way" in driver.page_source
    screenshot(driver, f"{lanyard.backend}-09-my-profile")
    link = re.search(r"(https://\S+/console/confirm-email\?token=\w+)", lanyard.wait_mail("carol.chief@globex.example")).group(1)
    driver.get(link)
    assert "Your login is now carol.chief@globex.example" in driver.page_source
    driver.get(lanyard.url + "/console")
    log_out(driver)
    driver.get(lanyard.url + "/console/login")
    fill(driver, email="carol.chief@globex.example", password=new_password)
    submit(driver)
    assert "Dashboard" in driver.title
    assert_no_console_errors(driver)


def test_distributor_creates_disables_and_exports_customer_accounts(lanyard, browser):
    driver = browser
    dist = lanyard.cli("org", "create", "--kind", "distributor", "--name", "Resale Ltd", "--email", "office@resale.example")
    lanyard.cli("admin", "invite", "--account", dist, "--email", "dave@resale.example")
    register_and_activate(lanyard, driver, "dave@resale.example", "Dave Distributor")
    log_in(lanyard, driver, "dave@resale.example")

    # Personalization: the invitation e-mail is reworded for Resale. It is a security mail: its
    # link and code stay in Lanyard's fixed block (an override cannot use them), and the
    # wording stays with Resale (docs/security.md).
    driver.get(lanyard.url + "/console/personalization/admin_invitation")
    text = driver.find_element(By.ID, "text")
    text.clear()
    text.send_keys("Welcome {{ nobody }}")
    submit(driver)
    assert "nobody" in driver.find_element(By.ID, "template-error").text, "an undefined variable is refused"
    text = driver.find_element(By.ID, "text")
    text.clear()
    text.send_keys("Resale Ltd invites you to {{ account_name }}. Register: {{ link }}")
    submit(driver)
    assert "link" in driver.find_element(By.ID, "template-error").text, "a security mail's link is not a variable"
    text = driver.find_element(By.ID, "text")
    text.clear()
    text.send_keys("Resale Ltd invites you to {{ account_name }}.")
    submit(driver)
    assert "changed for this account" in driver.page_source
    # Other mails are reworded for Resale and its customers.
    driver.get(lanyard.url + "/console/personalization/account_disabled")
    text = driver.find_element(By.ID, "text")
    text.clear()
    text.send_keys("Resale Ltd has paused {{ account_name }}.")
    submit(driver)
    assert "changed for this account" in driver.page_source
    fill(driver, headerColor="orange")
    submit(driver, "/console/personalization-look")
    assert "#1f5fbf" in driver.find_element(By.ID, "headerColor-error").text
    fill(driver, headerColor="#884400", copyright="© Resale Ltd")
    submit(driver, "/console/personalization-look")
    assert driver.find_element(By.CSS_SELECTOR, "footer.bottom").text == "© Resale Ltd"

    # Logos: checked by their bytes and size, shown in the header, inherited below.
    driver.find_element(By.ID, "logo-header").send_keys(str(FIXTURES / "logo-400x100.png"))
    submit(driver, "/console/personalization/logos/header")
    assert "at most 304 × 96" in driver.find_element(By.ID, "logo-header-error").text
    driver.find_element(By.ID, "logo-header").send_keys(str(FIXTURES / "logo-150x40.png"))
    submit(driver, "/console/personalization/logos/header")
    assert "Company logo uploaded." in driver.find_element(By.CSS_SELECTOR, "p.notice").text
    header_logo = driver.find_element(By.CSS_SELECTOR, "header .logo-header")
    assert driver.execute_script("return arguments[0].naturalWidth", header_logo) == 150, "the logo loads"
    screenshot(driver, f"{lanyard.backend}-14-personalization")

    # Alert history: what the console said this session, until cleared.
    driver.find_element(By.ID, "alerts-link").click()
    alerts = driver.find_element(By.TAG_NAME, "table").text
    assert "Company logo uploaded." in alerts
    screenshot(driver, f"{lanyard.backend}-15-alerts")
    submit(driver, "/console/alerts/clear")
    assert driver.find_element(By.ID, "no-alerts").text == "No alerts."
    assert driver.find_element(By.ID, "alerts-link").text == "Alerts"

    driver.find_element(By.LINK_TEXT, "Customer accounts").click()
    driver.find_element(By.LINK_TEXT, "Add a customer account").click()
    fields = dict(name="Initech", mainEmail="it@initech.example", manager="Bill Lumbergh", street="1 Main St",
                  city="Austin", country="USA", contactTitle="Mr", contactFirstName="Peter",
                  contactLastName="Gibbons", contactJobTitle="Engineer")
    fill(driver, **fields)
    submit(driver)
    assert driver.find_element(By.ID, "zip-error").text == "is required", "a missing required field is named"
    fill(driver, zip="73301")
    submit(driver)
    assert driver.find_element(By.ID, "account-status").text == "Created"
    assert not driver.find_elements(By.ID, "action-disable"), "a Created account cannot be disabled"
    driver.find_element(By.ID, "action-modify").click()
    fill(driver, city="")
    submit(driver)
    assert driver.find_element(By.ID, "city-error").text == "is required"
    fill(driver, city="Round Rock")
    submit(driver)
    assert "73301 Round Rock, USA" in driver.page_source
    screenshot(driver, f"{lanyard.backend}-10-customer-account")

    # Its main e-mail was invited — in Lanyard's own wording (Resale's override of a security
    # mail stays with Resale); once that administrator activates, the account is Activated.
    body = lanyard.wait_mail("it@initech.example")
    assert "Resale Ltd invites you" not in body, body
    link = re.search(r"(https://\S+/console/register\?code=\w+)", body).group(1)
    register_with(lanyard, driver, link, "it@initech.example", "Peter Gibbons")
    log_in(lanyard, driver, "it@initech.example")
    assert driver.find_element(By.CSS_SELECTOR, "footer.bottom").text == "© Resale Ltd", "inherited from Resale"
    log_out(driver)
    log_in(lanyard, driver, "dave@resale.example")

    # An API token for Initech: Dave requests it, the platform operator (registered through the
    # first start's setup link) approves, Dave collects it once, and it works from here only.
    driver.get(lanyard.url + "/console/api-tokens")
    fill(driver, domainName="api.initech.example", ipAllowList="127.0.0.1, ::1")
    submit(driver)
    assert "waiting for approval" in driver.page_source
    log_out(driver)
    register_with(lanyard, driver, lanyard.setup_link, "root@platform.example", "Platform Operator")
    log_in(lanyard, driver, "root@platform.example")
    driver.get(lanyard.url + "/console/api-tokens")
    approve = driver.find_element(By.CSS_SELECTOR, "button[id^='approve-']")
    old = driver.find_element(By.TAG_NAME, "html")
    approve.click()
    wait_for_new_page(old)
    # The operator also owns the plans.
    driver.get(lanyard.url + "/console/plans")
    users = driver.find_element(By.ID, "Free-users")
    users.clear()
    users.send_keys("25")
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "Free-save").click()
    wait_for_new_page(old)
    assert driver.find_element(By.ID, "Free-users").get_attribute("value") == "25"
    log_out(driver)
    log_in(lanyard, driver, "dave@resale.example")
    driver.get(lanyard.url + "/console/api-tokens")
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "button[id^='collect-']").click()
    wait_for_new_page(old)
    token = driver.find_element(By.ID, "api-token").text
    assert token.startswith("lyd_")
    screenshot(driver, f"{lanyard.backend}-12-api-token")
    driver.get(lanyard.url + "/console/api-tokens")
    assert not driver.find_elements(By.CSS_SELECTOR, "button[id^='collect-']"), "collected once"
    request = urllib.request.Request(
        lanyard.url + "/rest/users/count", headers={"Authorization": f"Bearer {token}", "X-PBM-API-VERSION": "2"}
    )
    with urllib.request.urlopen(request, context=lanyard.ssl) as response:
        assert response.read() == b"0"

    driver.get(lanyard.url + "/console/accounts")
    driver.find_element(By.LINK_TEXT, "Initech").click()
    assert driver.find_element(By.ID, "account-status").text == "Activated"
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "action-disable").click()
    wait_for_new_page(old)
    assert driver.find_element(By.ID, "account-status").text == "Disabled"
    assert "Resale Ltd has paused Initech." in lanyard.wait_mail("it@initech.example"), "inherited wording"
    assert driver.find_elements(By.ID, "action-reactivate") and not driver.find_elements(By.ID, "action-disable")

    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    request = urllib.request.Request(lanyard.url + "/console/accounts/export.xlsx", headers={"Cookie": cookies})
    with urllib.request.urlopen(request, context=lanyard.ssl) as response:
        sheet = openpyxl.load_workbook(io.BytesIO(response.read()))["Customer Accounts"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = ["Company Name", "Profile", "First Name", "Last Name", "Status", "Number of Credits"]
    at = rows.index(header)
    assert rows[at + 1][:5] == ["Initech", "End Customer", "Peter", "Gibbons", "Disabled"]

    # Deleting asks for a confirmation; then the account is gone for good.
    driver.find_element(By.NAME, "confirm").click()
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "action-delete").click()
    wait_for_new_page(old)
    driver.get(lanyard.url + "/console/accounts")
    assert "Initech" not in driver.page_source
    assert_no_console_errors(driver)


def test_an_organization_registers_itself(lanyard, browser):
    driver = browser
    driver.get(lanyard.url + "/console/login")
    driver.find_element(By.LINK_TEXT, "Register an organization").click()
    fill(driver, organization="Self Made", email="founder@selfmade.example", fullName="Founder Person",
         password=PASSWORD, password2="something else entirely")
    submit(driver)
    assert driver.find_element(By.ID, "password2-error").text
    fill(driver, password=PASSWORD, password2=PASSWORD)
    submit(driver)
    assert "Activate" in driver.title
    code = re.search(r"your activation code is (\w+)", lanyard.wait_mail("founder@selfmade.example")).group(1)
    fill(driver, email="founder@selfmade.example", code=code)
    submit(driver)
    log_in(lanyard, driver, "founder@selfmade.example")
    assert "Self Made" in driver.page_source
    screenshot(driver, f"{lanyard.backend}-13-self-registered")
    assert_no_console_errors(driver)


def download(lanyard, driver, path):
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    request = urllib.request.Request(lanyard.url + path, headers={"Cookie": cookies})
    with urllib.request.urlopen(request, context=lanyard.ssl) as response:
        return response.read()


def curl_users(lanyard, pem):
    out = subprocess.run(
        ["curl", "-sS", "--cacert", str(pathlib.Path(lanyard.dir) / "data" / "ca.pem"), "--cert", pem,
         "-H", "X-PBM-API-VERSION: 2", "-o", "/dev/null", "-w", "%{http_code}", lanyard.url + "/rest/users"],
        capture_output=True, text=True, check=True)
    return out.stdout


def test_access_keys_certificates_downloads_and_revocation(lanyard, browser, tmp_path):
    driver = browser
    org = lanyard.cli("org", "create", "--name", "Keyed Ltd", "--email", "it@keyed.example")
    lanyard.cli("admin", "invite", "--account", org, "--email", "kim@keyed.example")
    register_and_activate(lanyard, driver, "kim@keyed.example", "Kim Keys")
    log_in(lanyard, driver, "kim@keyed.example")

    # A management key with a generated key pair: PFX with the shown password, PEM with the key.
    driver.find_element(By.LINK_TEXT, "Access keys").click()
    driver.find_element(By.CSS_SELECTOR, "#type option[value=management]").click()
    fill(driver, name="ops tool")
    submit(driver, "/console/access-keys")
    assert "ops tool" in driver.find_element(By.TAG_NAME, "h1").text
    key_id = driver.current_url.rsplit("/", 1)[1]
    serial = driver.find_element(By.CSS_SELECTOR, "td code").text
    assert driver.find_element(By.ID, f"status-{serial}").text == "ACTIVE"
    submit(driver, f"/console/access-keys/{key_id}/certificates/{serial}/password")
    password = driver.find_element(By.ID, "pfx-password").text
    screenshot(driver, f"{lanyard.backend}-16-access-key")
    pfx = tmp_path / "ops.pfx"
    pfx.write_bytes(download(lanyard, driver, f"/console/access-keys/{key_id}/certificates/{serial}.pfx"))
    info = subprocess.run(["openssl", "pkcs12", "-info", "-in", str(pfx), "-passin", f"pass:{password}", "-nokeys"],
                          capture_output=True, text=True)
    assert info.returncode == 0 and "CN = ops tool" in info.stdout + info.stderr, info.stderr
    # The private key is handed out once: the PEM now has the chain only, a second PFX is refused.
    assert b"PRIVATE KEY" not in download(lanyard, driver, f"/console/access-keys/{key_id}/certificates/{serial}.pem")
    with pytest.raises(urllib.error.HTTPError):
        download(lanyard, driver, f"/console/access-keys/{key_id}/certificates/{serial}.pfx")
    pem = tmp_path / "ops.pem"
    subprocess.run(["openssl", "pkcs12", "-in", str(pfx), "-passin", f"pass:{password}", "-nodes", "-out", str(pem)],
                   check=True, capture_output=True)
    assert b"PRIVATE KEY" in pem.read_bytes()
    assert curl_users(lanyard, str(pem)) == "200", "the downloaded keystore manages end users"

    # Revoked in the console: refused by the API on the next request.
    submit(driver, f"/console/access-keys/{key_id}/certificates/{serial}/revoke")
    assert driver.find_element(By.ID, f"status-{serial}").text == "REVOKED"
    assert curl_users(lanyard, str(pem)) == "401"

    # A new certificate from the administrator's own request: no key on the server, no PFX.
    own_key, csr = tmp_path / "own.key", tmp_path / "own.csr"
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(own_key),
                    "-subj", "/CN=mine", "-out", str(csr)], check=True, capture_output=True)
    weak = tmp_path / "weak.csr"
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "/dev/null",
                    "-subj", "/CN=weak", "-out", str(weak)], check=True, capture_output=True)
    driver.find_element(By.ID, "csr").send_keys(weak.read_text())
    submit(driver, f"/console/access-keys/{key_id}/issue")
    assert "too weak" in driver.find_element(By.ID, "csr-error").text
    driver.find_element(By.ID, "csr").send_keys(csr.read_text())
    submit(driver, f"/console/access-keys/{key_id}/issue")
    new_serial = re.search(r"Certificate (\w+) issued", driver.find_element(By.CSS_SELECTOR, "p.notice").text).group(1)
    assert not driver.find_elements(By.ID, f"pfx-{new_serial}"), "no PFX for a key the server never had"
    issued = download(lanyard, driver, f"/console/access-keys/{key_id}/certificates/{new_serial}.pem")
    assert b"PRIVATE KEY" not in issued
    bundle = tmp_path / "mine.pem"
    bundle.write_bytes(issued + own_key.read_bytes())
    assert curl_users(lanyard, str(bundle)) == "200"

    # An application key brings its application; deleting a key revokes its certificates.
    driver.find_element(By.LINK_TEXT, "Access keys").click()
    fill(driver, name="billing")
    submit(driver, "/console/access-keys")
    driver.find_element(By.LINK_TEXT, "Access keys").click()
    assert "billing" in driver.find_element(By.TAG_NAME, "table").text

    # The application's icon: an SVG that tries to run script is shown as an image only.
    evil = tmp_path / "evil.svg"
    evil.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="alert(1)">'
                    '<script>alert(2)</script><circle cx="20" cy="20" r="18" fill="red"/></svg>')
    not_svg = tmp_path / "icon.png"
    not_svg.write_bytes((FIXTURES / "logo-150x40.png").read_bytes())
    upload_field = driver.find_element(By.CSS_SELECTOR, "input[type=file][id^=icon-file-]")
    app_id = upload_field.get_attribute("id").removeprefix("icon-file-")
    upload_field.send_keys(str(not_svg))
    submit(driver, f"/console/applications/{app_id}/icon")
    assert "SVG" in driver.find_element(By.ID, f"icon-{app_id}-error").text
    driver.find_element(By.ID, f"icon-file-{app_id}").send_keys(str(evil))
    submit(driver, f"/console/applications/{app_id}/icon")
    icon = driver.find_element(By.ID, "icon-billing")
    assert driver.execute_script("return arguments[0].naturalWidth", icon) > 0, "the icon shows"
    served = download(lanyard, driver, f"/console/applications/{app_id}/icon.svg")
    assert served == evil.read_bytes()
    driver.get(lanyard.url + f"/console/applications/{app_id}/icon.svg")
    time.sleep(0.5)
    try:
        driver.switch_to.alert
        raise AssertionError("a script in an uploaded icon ran")
    except NoAlertPresentException:
        pass
    blocked = [e["message"] for e in driver.get_log("browser") if e["source"] == "security"]
    assert any("sandboxed" in m and "allow-scripts" in m for m in blocked), f"the browser blocked the script: {blocked}"
    driver.get(lanyard.url + "/console/access-keys")
    submit(driver, f"/console/applications/{app_id}/icon/default")
    assert download(lanyard, driver, f"/console/applications/{app_id}/icon.svg") != evil.read_bytes()

    # Maintenance of the application: English text required; active now; stopped at once.
    driver.find_element(By.ID, "add-maintenance").click()
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    for name, value in [("startsAt", start), ("endsAt", start + datetime.timedelta(hours=2))]:
        driver.execute_script("arguments[0].value = arguments[1]", driver.find_element(By.ID, name),
                              value.strftime("%Y-%m-%dT%H:%M"))
    driver.find_element(By.CSS_SELECTOR, f"#application option[value='{app_id}']").click()
    fill(driver, language2="hu", subject2="Karbantartás", body2="Hamarosan visszajövünk.")
    submit(driver, "/console/maintenance")
    assert "English is required" in driver.find_element(By.ID, "subject-error").text
    fill(driver, subject="Upgrade", body="Back soon.")
    submit(driver, "/console/maintenance")
    row = driver.find_element(By.XPATH, "//td[text()='Upgrade']/..")
    assert "active" in row.text and "billing" in row.text, row.text
    screenshot(driver, f"{lanyard.backend}-17-access-keys")
    row.find_element(By.LINK_TEXT, "View").click()
    assert driver.find_element(By.ID, "subject2").get_attribute("value") == "Karbantartás"
    submit(driver, driver.current_url.removeprefix(lanyard.url) + "/stop")
    row = driver.find_element(By.XPATH, "//td[text()='Upgrade']/..")
    assert "stopped" in row.text, row.text

    driver.get(lanyard.url + f"/console/access-keys/{key_id}")
    submit(driver, f"/console/access-keys/{key_id}/delete")
    assert curl_users(lanyard, str(bundle)) == "401"
    driver.get(lanyard.url + "/console/history")
    history = driver.find_element(By.TAG_NAME, "table").text
    assert f"Certificate {serial} of key ops tool revoked" in history
    assert "Key ops tool deleted" in history
    assert_no_console_errors(driver)


def test_end_user_details_aliases_and_enrollment_qr(lanyard, browser, tmp_path):
    driver = browser
    org = lanyard.cli("org", "create", "--name", "Enrolling Ltd", "--email", "it@enrolling.example")
    lanyard.cli("admin", "invite", "--account", org, "--email", "eve@enrolling.example")
    register_and_activate(lanyard, driver, "eve@enrolling.example", "Eve Enroller")
    log_in(lanyard, driver, "eve@enrolling.example")
    driver.find_element(By.LINK_TEXT, "End users").click()
    driver.find_element(By.LINK_TEXT, "Add end user").click()
    fill(driver, userId="frank", fullName="Frank", email="frank@enrolling.example")
    submit(driver)
    driver.find_element(By.LINK_TEXT, "frank").click()
    oid = driver.current_url.rsplit("/", 1)[1]
    assert driver.find_elements(By.LINK_TEXT, "Access keys"), "the page keeps the whole navigation"

    # Edit with a bad phone number: the field says why; then a good change.
    fill(driver, phoneNumber="call me maybe")
    submit(driver, f"/console/users/{oid}/edit")
    assert driver.find_element(By.ID, "phoneNumber-error").text
    fill(driver, phoneNumber="+36 1 234 5678", fullName="Frank Phone")
    submit(driver, f"/console/users/{oid}/edit")
    assert driver.find_element(By.ID, "fullName").get_attribute("value") == "Frank Phone"
    fill(driver, alias="frank.p")
    submit(driver, f"/console/users/{oid}/alias-add")
    assert "frank.p" in driver.find_element(By.TAG_NAME, "table").text

    # An enrollment: its QR code, as the browser draws it, decodes to the link.
    submit(driver, f"/console/users/{oid}/enroll")
    enrollment_id = re.search(r"Enrollment (\w+) created", driver.find_element(By.CSS_SELECTOR, "p.notice").text).group(1)
    assert driver.find_element(By.ID, f"enrollment-{enrollment_id}").text == "ACTIVE"
    qr = driver.find_element(By.ID, f"qr-{enrollment_id}")
    assert driver.execute_script("return arguments[0].naturalWidth", qr) > 0
    screenshot(driver, f"{lanyard.backend}-18-end-user")
    shot = tmp_path / "qr.png"
    shot.write_bytes(qr.screenshot_as_png)
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", str(shot)], capture_output=True, text=True)
    assert decoded.returncode == 0, decoded.stderr
    url = decoded.stdout.strip()
    assert re.fullmatch(r"https://\S+/deviceConfig/[\d.]+/[0-9a-f]{32}\?expireDate=\S+", url), url

    # The enrollment sheet: downloadable, and sent by e-mail (the enrollment shows it was sent).
    sheet = driver.find_element(By.ID, f"sheet-{enrollment_id}").get_attribute("href")
    fetched = driver.execute_script(
        "const r = await fetch(arguments[0]); const b = new Uint8Array(await r.arrayBuffer());"
        "return [r.status, r.headers.get('content-type'), String.fromCharCode(...b.slice(0, 5))];", sheet)
    assert fetched == [200, "application/pdf", "%PDF-"], fetched
    assert driver.find_element(By.ID, f"sent-{enrollment_id}").text == "no"
    submit(driver, f"/console/users/{oid}/enrollment-send")
    assert "on its way" in driver.find_element(By.CSS_SELECTOR, "p.notice").text
    assert driver.find_element(By.ID, f"sent-{enrollment_id}").text == "yes"
    assert "attached is your enrollment sheet" in lanyard.wait_mail("frank@enrolling.example")

    # A phone (curl and openssl) enrolls with the decoded link; the administrator sees the device
    # and deactivates it; the phone's next call is refused.
    ca = str(pathlib.Path(lanyard.dir) / "data" / "ca.pem")
    key, csr, pem = tmp_path / "phone.key", tmp_path / "phone.csr", tmp_path / "phone.pem"
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=phone", "-keyout", str(key), "-out", str(csr)], check=True, capture_output=True)
    config = json.loads(subprocess.run(["curl", "-sS", "--fail", "--cacert", ca, url], capture_output=True, text=True,
                                       check=True).stdout)
    secret = url.split("?")[0].rsplit("/", 1)[1]
    body = json.dumps({"secret": secret, "deviceName": "Frank's phone", "vendorId": "frank-phone",
                       "deviceType": "ANDROID", "appVersion": "1.0.0", "csr": csr.read_text()})
    enrolled = json.loads(subprocess.run(["curl", "-sS", "--fail", "--cacert", ca, "-H", "Content-Type: application/json",
                                          "-d", body, config["enrollUrl"]], capture_output=True, text=True, check=True).stdout)
    pem.write_text(enrolled["certificateChain"] + key.read_text())
    device_url = config["enrollUrl"].rsplit("/", 1)[0] + "/device"
    call = lambda: subprocess.run(["curl", "-sS", "--cacert", ca, "--cert", str(pem), "-o", "/dev/null", "-w", "%{http_code}",
                                   device_url], capture_output=True, text=True, check=True).stdout
    assert call() == "200"
    # The organization's devices page: the phone, a new deactivation code by e-mail, the custom
    # mobile app settings (checked by field), the report.
    driver.find_element(By.LINK_TEXT, "Devices").click()
    row = driver.find_element(By.XPATH, "//td[text()=\"Frank's phone\"]/..").text
    assert "until" in row, row  # its certificate
    submit(driver, "/console/devices/resend")
    assert "new deactivation code" in driver.find_element(By.CSS_SELECTOR, "p.notice").text.lower()
    letter = lanyard.wait_mail("frank@enrolling.example")
    assert "deactivation code is" in letter, letter
    fill(driver, minAndroidVersion="two")
    submit(driver, "/console/devices/mobile-app")
    assert "numbers separated by dots" in driver.find_element(By.ID, "minAndroidVersion-error").text
    fill(driver, minAndroidVersion="2.0", enrollmentScheme="")
    submit(driver, "/console/devices/mobile-app")
    assert driver.find_element(By.ID, "minAndroidVersion").get_attribute("value") == "2.0"
    # The phone reported app 1.0.0 at enrollment: from now on it is refused until it updates.
    assert call() == "420"
    fill(driver, minAndroidVersion="")
    submit(driver, "/console/devices/mobile-app")
    assert call() == "200"
    report = driver.execute_script(
        "const r = await fetch('/console/devices/report.csv'); return [r.status, await r.text()];")
    assert report[0] == 200 and "Frank's phone" in report[1], report

    # Push credentials of the organization's own app: checked, kept, shown without the key.
    fill(driver, serviceAccount='{"type": "service_account"}')
    submit(driver, "/console/devices/push-fcm")
    assert "service account JSON" in driver.find_element(By.ID, "serviceAccount-error").text
    p8 = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                        capture_output=True, text=True, check=True).stdout
    fill(driver, teamId="TEAM123456", keyId="ABC123DEFG", topic="com.acme.id", key=p8)
    submit(driver, "/console/devices/push-apns")
    assert "team TEAM123456, key ABC123DEFG, app com.acme.id" in driver.find_element(By.ID, "push-apns-state").text
    assert "PRIVATE KEY" not in driver.page_source

    driver.get(lanyard.url + f"/console/users/{oid}")
    assert driver.find_element(By.ID, f"enrollment-{enrollment_id}").text == "USED"
    submit(driver, f"/console/users/{oid}/device-deactivate")
    assert driver.find_element(By.ID, "no-devices").text == "No devices."
    assert call() == "401"

    submit(driver, f"/console/users/{oid}/disable")
    assert driver.find_element(By.ID, "user-status").text == "(disabled)"
    submit(driver, f"/console/users/{oid}/delete")
    assert "frank" not in driver.find_element(By.TAG_NAME, "table").text
    driver.get(lanyard.url + "/console/history")
    history = driver.find_element(By.TAG_NAME, "table").text
    assert f"Enrollment {enrollment_id} created for frank" in history
    assert_no_console_errors(driver)


def lanyard_device(state, *args):
    """Runs the reference device (built beside the lanyard binary)."""
    binary = pathlib.Path(os.environ.get("LANYARD_BIN", "target/debug/lanyard")).with_name("lanyard-device")
    out = subprocess.run([str(binary), "--state", str(state), *args], capture_output=True, text=True)
    return out.returncode, (json.loads(out.stdout) if out.returncode == 0 else out.stderr)


def decode_qr(element, path):
    path.write_bytes(element.screenshot_as_png)
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", str(path)], capture_output=True, text=True)
    assert decoded.returncode == 0, decoded.stderr
    return decoded.stdout.strip()


def test_an_administrator_replaces_a_lost_phone(lanyard, browser, tmp_path):
    """SPEC §1 "lost device": the administrator enrolls their own phone from My profile; losing
    it, they deactivate it on the self-service page (the page's proof of work runs in the
    browser) with the code from the confirmation letter, then enroll a new phone."""
    driver = browser
    org = lanyard.cli("org", "create", "--name", "Lost Ltd", "--email", "it@lost.example")
    lanyard.cli("admin", "invite", "--account", org, "--email", "lea@lost.example")
    register_and_activate(lanyard, driver, "lea@lost.example", "Lea Lost")
    log_in(lanyard, driver, "lea@lost.example")
    ca = str(pathlib.Path(lanyard.dir) / "data" / "ca.pem")

    def enroll_phone(name):
        driver.get(lanyard.url + "/console/me")
        enroll = driver.find_element(By.CSS_SELECTOR, "form[action$='/enroll'] button")
        old = driver.find_element(By.TAG_NAME, "html")
        enroll.click()
        wait_for_new_page(old)
        assert "My profile" in driver.title, "back on My profile after enrolling myself"
        qr = driver.find_element(By.CSS_SELECTOR, "img[id^='qr-']")
        link = decode_qr(qr, tmp_path / f"{name}.png")
        code, answer = lanyard_device(tmp_path / name, "enroll", link, "--ca-file", ca, "--name", name)
        assert code == 0, answer
        return answer

    first = enroll_phone("old-phone")
    letter = lanyard.wait_mail("lea@lost.example")
    deactivation_code = re.search(r"deactivation code is (\w+)", letter).group(1)
    assert deactivation_code == first["deactivationCode"]
    organization = first["device"]["organization"]["oid"]
    driver.get(lanyard.url + "/console/me")
    assert "old-phone" in driver.find_element(By.TAG_NAME, "main").text

    # The phone is lost: from the login page to the self-service page.
    log_out(driver)
    driver.find_element(By.ID, "lost-phone").click()
    assert "Deactivate a lost phone" in driver.title
    fill(driver, organization=organization, code="WRONG-CODE")
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "deactivate-button").click()
    wait_for_new_page(old, timeout=60)
    assert "not valid" in driver.find_element(By.ID, "error").text
    fill(driver, code=deactivation_code)
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "deactivate-button").click()
    wait_for_new_page(old, timeout=60)
    assert "old-phone" in driver.find_element(By.ID, "done").text
    screenshot(driver, f"{lanyard.backend}-19-lost-phone")
    code, refused = lanyard_device(tmp_path / "old-phone", "show")
    assert code != 0 and "UNAUTHORIZED" in refused, refused

    # Back in the console: no phone any more; a new one is enrolled the same way.
    log_in(lanyard, driver, "lea@lost.example")
    driver.get(lanyard.url + "/console/me")
    assert driver.find_element(By.ID, "no-devices").text == "No devices."
    enroll_phone("new-phone")
    driver.get(lanyard.url + "/console/me")
    assert "new-phone" in driver.find_element(By.TAG_NAME, "main").text
    code, shown = lanyard_device(tmp_path / "new-phone", "show")
    assert code == 0, shown
    assert_no_console_errors(driver)


def wait_for_title(driver, text, timeout=30):
    """Waits until the page (which may refresh itself) has `text` in its title."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if text in driver.title:
                return
        except WebDriverException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no page titled {text!r}; now {driver.title!r}: {driver.page_source[:2000]}")


def password_step(lanyard, driver, address):
    driver.get(lanyard.url + "/console/login")
    fill(driver, email=address, password=PASSWORD)
    submit(driver)


def assert_no_session(lanyard, driver):
    """The console is closed: any page sends to the login form."""
    driver.get(lanyard.url + "/console/users")
    assert "Log in" in driver.title, driver.page_source[:2000]


@pytest.mark.phone_login
def test_console_login_needs_the_phones_approval(lanyard, browser, tmp_path):
    """SPEC §1 "Login" and seed 000 "Dashboard access": after the password the console asks the
    administrator's phone to approve. Without a phone (new, or lost and deactivated) an e-mailed
    code comes first, then a phone is enrolled from the QR code the login page shows. Denied,
    expired and cancelled approvals leave no session; an approved one opens the console."""
    driver = browser
    org = lanyard.cli("org", "create", "--name", "Phone Login Ltd", "--email", "it@pl.example")
    lanyard.cli("admin", "invite", "--account", org, "--email", "pia@pl.example")
    register_and_activate(lanyard, driver, "pia@pl.example", "Pia Phone")
    ca = str(pathlib.Path(lanyard.dir) / "data" / "ca.pem")
    phone = tmp_path / "phone"

    # No phone yet: the password leads to the e-mailed code, not into the console.
    password_step(lanyard, driver, "pia@pl.example")
    assert "Enter your login code" in driver.title, driver.page_source[:2000]
    code = re.search(r"your login code is (\w+)", lanyard.wait_mail("pia@pl.example")).group(1)
    assert_no_session(lanyard, driver)
    password_step(lanyard, driver, "pia@pl.example")
    code = re.search(r"your login code is (\w+)", lanyard.wait_mail("pia@pl.example")).group(1)
    fill(driver, code="WRONGCODE1")
    submit(driver, "/console/login/phone")
    assert "is not valid" in driver.find_element(By.ID, "code-error").text
    fill(driver, code=code)
    submit(driver, "/console/login/phone")
    assert "Enroll your phone" in driver.title, driver.page_source[:2000]
    screenshot(driver, f"{lanyard.backend}-20-login-enroll")
    link = decode_qr(driver.find_element(By.ID, "enrollment-qr"), tmp_path / "login-qr.png")
    assert link == driver.find_element(By.ID, "enrollment-link").text
    status, enrolled = lanyard_device(phone, "enroll", link, "--ca-file", ca, "--name", "Pia's phone")
    assert status == 0, enrolled

    # Enrolled: the page moves on by itself and asks the phone. Denied on the phone: no session.
    wait_for_title(driver, "Approve on your phone")
    secure_id = driver.find_element(By.ID, "secure-id").text
    screenshot(driver, f"{lanyard.backend}-21-login-approve")
    status, answered = lanyard_device(phone, "listen", "--count", "1", "--auto", "deny")
    assert status == 0, answered
    message = answered["delivered"][0]["message"]
    assert message["secureId"] == secure_id and message["type"] == "authorization"
    assert "pia@pl.example" in message["body"]
    assert answered["delivered"][0]["answer"]["status"] == "DENIED"
    wait_for_title(driver, "Log in")
    assert "denied on your phone" in driver.page_source
    assert_no_session(lanyard, driver)

    # Not answered in time (8 s here): no session either.
    password_step(lanyard, driver, "pia@pl.example")
    assert "Approve on your phone" in driver.title
    wait_for_title(driver, "Log in", timeout=40)
    assert "not approved on your phone in time" in driver.page_source
    assert_no_session(lanyard, driver)
    status, inbox = lanyard_device(phone, "messages")
    assert status == 0 and inbox["data"] == [], inbox

    # Given up in the browser: the request is withdrawn, no session.
    password_step(lanyard, driver, "pia@pl.example")
    assert "Approve on your phone" in driver.title
    submit(driver, "/console/login/phone")
    assert "Log in" in driver.title
    assert_no_session(lanyard, driver)

    # Approved on the phone: the console opens.
    password_step(lanyard, driver, "pia@pl.example")
    secure_id = driver.find_element(By.ID, "secure-id").text
    status, answered = lanyard_device(phone, "listen", "--count", "1", "--auto", "approve")
    assert status == 0, answered
    assert answered["delivered"][0]["message"]["secureId"] == secure_id
    wait_for_title(driver, "Dashboard")
    driver.get(lanyard.url + "/console/history")
    history = driver.find_element(By.TAG_NAME, "main").text
    for action in ("Login denied on the phone", "Login not approved in time", "Login cancelled",
                   "Logged in (approved on the phone)", "Login code entered (no phone enrolled)"):
        assert action in history, (action, history)

    # The activity log page lists the approvals, newest first, and searches them.
    driver.find_element(By.LINK_TEXT, "Activity log").click()
    wait_for_title(driver, "Activity log")
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#activity tbody tr")]
    assert len(rows) == 4, rows
    assert all("pia@pl.example" in r and "Console approval" in r for r in rows), rows
    assert rows[0].endswith("APPROVED") and rows[-1].endswith("DENIED"), rows
    fill(driver, q="denied")
    submit(driver, "/console/activity")
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#activity tbody tr")]
    assert len(rows) == 1 and rows[0].endswith("DENIED"), rows
    assert_no_console_errors(driver)


def send_message(driver):
    """Clicks Send (the compose form's first button is Search)."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "message-send").click()
    wait_for_new_page(old)


def test_messages_from_the_console_with_history_and_evidences(lanyard, browser, tmp_path):
    """Seed 000 "Messaging to users", "Advanced messages": an administrator sends an
    authorization with the advanced fields folded out (a chosen secureId whose validation is
    enforced, an external identity); a wrong structured body is refused at its field; the phone
    (lanyard-device) gets it on its real-time channel and approves it with the secureId; the
    message page then shows APPROVED and both evidences, and the downloaded one verifies with
    openssl against the platform CA. The end user's page leads to their message history."""
    driver = browser
    org = lanyard.cli("org", "create", "--name", "Shop Ltd", "--email", "it@shop.example")
    lanyard.cli("admin", "invite", "--account", org, "--email", "max@shop.example")
    register_and_activate(lanyard, driver, "max@shop.example", "Max Messenger")
    log_in(lanyard, driver, "max@shop.example")
    ca = str(pathlib.Path(lanyard.dir) / "data" / "ca.pem")

    # No application yet: the page says where to add one.
    driver.find_element(By.LINK_TEXT, "Messages").click()
    assert "Access keys" in driver.find_element(By.ID, "no-sender").text
    driver.find_element(By.LINK_TEXT, "Access keys").click()
    fill(driver, name="webshop")
    submit(driver, "/console/access-keys")

    # An end user with an enrolled phone.
    driver.find_element(By.LINK_TEXT, "End users").click()
    driver.find_element(By.LINK_TEXT, "Add end user").click()
    fill(driver, userId="mia", fullName="Mia", email="mia@shop.example")
    submit(driver)
    driver.find_element(By.LINK_TEXT, "mia").click()
    oid = driver.current_url.rsplit("/", 1)[1]
    submit(driver, f"/console/users/{oid}/enroll")
    link = decode_qr(driver.find_element(By.CSS_SELECTOR, "img[id^='qr-']"), tmp_path / "qr.png")
    code, enrolled = lanyard_device(tmp_path / "mia", "enroll", link, "--ca-file", ca, "--name", "mia-phone")
    assert code == 0, enrolled

    # A one-time password with a body that is not its JSON: refused at the body, the advanced
    # fields open, what was typed kept.
    driver.find_element(By.LINK_TEXT, "Messages").click()
    fill(driver, recipients="mia", subject="Your code", body="123456")
    driver.find_element(By.CSS_SELECTOR, "#advanced summary").click()
    driver.find_element(By.CSS_SELECTOR, "#type option[value=otp]").click()
    send_message(driver)
    assert "one-time password is JSON" in driver.find_element(By.ID, "body-error").text
    assert driver.find_element(By.ID, "advanced").get_attribute("open") is not None
    assert driver.find_element(By.ID, "subject").get_attribute("value") == "Your code"

    # The authorization, to a recipient found by searching, with an enforced secureId and an
    # external identity. Enter in a field searches, it never sends.
    driver.find_element(By.ID, "recipients").clear()
    fill(driver, find="MI")
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "find").send_keys("\n")
    wait_for_new_page(old)
    assert driver.find_elements(By.CSS_SELECTOR, "input[name=pick][value=mia]"), driver.page_source[:3000]
    assert driver.find_element(By.ID, "subject").get_attribute("value") == "Your code", "nothing typed is lost"
    driver.find_element(By.CSS_SELECTOR, "input[name=pick][value=mia]").click()
    fill(driver, subject="Approve order 1042?", body="3 items, 120 EUR.", secureId="ORDER7",
         externalIdentity="Shop Ltd")
    driver.find_element(By.CSS_SELECTOR, "#type option[value=authorization]").click()
    driver.find_element(By.ID, "enforceSecureId").click()
    screenshot(driver, f"{lanyard.backend}-21-compose")
    send_message(driver)
    assert driver.find_element(By.CSS_SELECTOR, "p.notice").text == "Message sent."
    message_id = driver.find_element(By.ID, "message-id").text
    assert "ORDER7 (validation enforced)" in driver.find_element(By.ID, "message-secure-id").text
    assert driver.find_element(By.CSS_SELECTOR, "#recipients td.status").text == "PENDING"

    # The phone: the message with the advanced fields but not the enforced code, which the
    # person must type: without it the phone cannot approve; with it, approved.
    code, refused = lanyard_device(tmp_path / "mia", "listen", "--count", "1", "--auto", "approve")
    assert code != 0 and "enforces secureId validation" in refused, refused
    code, inbox = lanyard_device(tmp_path / "mia", "messages")
    assert code == 0, inbox
    shown = inbox["data"][0]
    assert shown["messageId"] == message_id and shown["externalIdentity"] == "Shop Ltd"
    assert shown["enforceSecureId"] is True and shown.get("secureId") is None, shown
    code, approved = lanyard_device(tmp_path / "mia", "approve", message_id, "--secure-id", "ORDER7")
    assert code == 0, approved
    assert approved["status"] == "APPROVED"

    driver.get(f"{lanyard.url}/console/messages/{message_id}")
    assert driver.find_element(By.CSS_SELECTOR, "#recipients td.status").text == "APPROVED"
    evidences = driver.find_elements(By.CSS_SELECTOR, "#recipients a.evidence")
    assert [e.text.split(" ")[0] for e in evidences] == ["PROOF_OF_DELIVERY", "SIGNED_TRANSACTION"]
    screenshot(driver, f"{lanyard.backend}-22-message")
    path = evidences[1].get_attribute("href").replace(lanyard.url, "")
    der = tmp_path / "evidence.p7m"
    der.write_bytes(download(lanyard, driver, path))
    verified = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-binary", "-in", str(der),
                               "-CAfile", ca, "-out", str(tmp_path / "countersigned.json")],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    statement = json.loads((tmp_path / "countersigned.json").read_text())["statement"]
    assert "secureId: ORDER7" in statement and "decision: APPROVED" in statement, statement

    # The list, and Mia's history from her page.
    driver.find_element(By.LINK_TEXT, "Messages").click()
    assert "1 APPROVED" in driver.find_element(By.ID, "messages").text
    driver.get(f"{lanyard.url}/console/users/{oid}")
    driver.find_element(By.ID, "user-messages").click()
    assert "Messages to mia" in driver.title
    assert "Approve order 1042?" in driver.find_element(By.ID, "messages").text
    assert not driver.find_elements(By.ID, "send-message"), "a person's history has no send form"
    assert_no_console_errors(driver)


@pytest.mark.phone_login
def test_the_phone_approves_password_resets_and_account_deletions(lanyard, browser, tmp_path):
    """SPEC §1: a forgotten password is reset by the e-mailed link, then approved on the phone;
    deleting a customer account, which cannot be undone, also waits for the phone. Without a
    phone the link alone resets the password. Denied, nothing changes; approved, it is done."""
    driver = browser
    dist = lanyard.cli("org", "create", "--kind", "distributor", "--name", "Approving Ltd", "--email", "it@ap.example")
    lanyard.cli("admin", "invite", "--account", dist, "--email", "ada@ap.example")
    register_and_activate(lanyard, driver, "ada@ap.example", "Ada Approver")
    ca = str(pathlib.Path(lanyard.dir) / "data" / "ca.pem")
    phone = tmp_path / "phone"

    def reset_link():
        driver.get(lanyard.url + "/console/forgot-password")
        fill(driver, email="ada@ap.example")
        submit(driver)
        while True:  # past the phone's confirmation letter
            found = re.search(r"(https://\S+/console/reset-password\?token=\w+)", lanyard.wait_mail("ada@ap.example"))
            if found:
                return found.group(1)

    def choose(link, password):
        driver.get(link)
        fill(driver, password=password, password2=password)
        submit(driver)

    # No phone yet: the link alone sets the new password.
    second = "the second password of ada"
    choose(reset_link(), second)
    assert "Your new password is set" in driver.page_source

    # The first login enrolls a phone (e-mailed code, QR code) and is approved on it.
    driver.get(lanyard.url + "/console/login")
    fill(driver, email="ada@ap.example", password=second)
    submit(driver)
    code = re.search(r"your login code is (\w+)", lanyard.wait_mail("ada@ap.example")).group(1)
    fill(driver, code=code)
    submit(driver, "/console/login/phone")
    link = decode_qr(driver.find_element(By.ID, "enrollment-qr"), tmp_path / "qr.png")
    status, enrolled = lanyard_device(phone, "enroll", link, "--ca-file", ca, "--name", "Ada's phone")
    assert status == 0, enrolled
    wait_for_title(driver, "Approve on your phone")
    status, answered = lanyard_device(phone, "listen", "--count", "1", "--auto", "approve")
    assert status == 0, answered
    wait_for_title(driver, "Dashboard")

    # Deleting a customer account: denied on the phone, the account stays; approved, it goes.
    driver.get(lanyard.url + "/console/accounts/new")
    fill(driver, name="Doomed Inc", mainEmail="it@doomed.example", manager="Dee", street="1 Main St", zip="1000",
         city="Brussels", country="Belgium", contactTitle="Ms", contactFirstName="Dee", contactLastName="Oom",
         contactJobTitle="CEO")
    submit(driver)
    assert driver.find_element(By.ID, "account-status").text == "Created"
    customer = driver.current_url.rsplit("/", 1)[1]

    def delete_customer():
        driver.get(f"{lanyard.url}/console/accounts/{customer}")
        driver.find_element(By.NAME, "confirm").click()
        old = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.ID, "action-delete").click()
        wait_for_new_page(old)
        assert "Approve on your phone" in driver.title, driver.page_source[:2000]
        return driver.find_element(By.ID, "secure-id").text

    secure_id = delete_customer()
    status, answered = lanyard_device(phone, "listen", "--count", "1", "--auto", "deny")
    assert status == 0, answered
    assert answered["delivered"][0]["message"]["secureId"] == secure_id
    assert "Doomed Inc" in answered["delivered"][0]["message"]["subject"]
    wait_for_title(driver, "Account not deleted")
    assert "denied on your phone" in driver.page_source
    driver.get(lanyard.url + "/console/accounts")
    assert "Doomed Inc" in driver.find_element(By.TAG_NAME, "main").text
    delete_customer()
    screenshot(driver, f"{lanyard.backend}-23-delete-approval")
    status, answered = lanyard_device(phone, "listen", "--count", "1", "--auto", "approve")
    assert status == 0, answered
    wait_for_title(driver, "Account deleted")
    driver.get(lanyard.url + "/console/accounts")
    assert "Doomed Inc" not in driver.find_element(By.TAG_NAME, "main").text

    # A forgotten password with a phone: the new one waits for it. Denied, the old password
    # stays; the same link asks again, and approved, the new one is set.
    log_out(driver)
    link = reset_link()
    third = "the third password of ada"
    choose(link, third)
    assert "Approve on your phone" in driver.title, driver.page_source[:2000]
    status, answered = lanyard_device(phone, "listen", "--count", "1", "--auto", "deny")
    assert status == 0, answered
    assert answered["delivered"][0]["message"]["subject"] == "Reset your console password"
    wait_for_title(driver, "Password not changed")
    assert "denied on your phone" in driver.page_source
    driver.get(lanyard.url + "/console/login")
    fill(driver, email="ada@ap.example", password=third)
    submit(driver)
    assert "Approve on your phone" not in driver.title, "the denied password does not log in"
    choose(link, third)
    status, answered = lanyard_device(phone, "listen", "--count", "1", "--auto", "approve")
    assert status == 0, answered
    wait_for_title(driver, "Password changed")
    driver.get(lanyard.url + "/console/login")
    fill(driver, email="ada@ap.example", password=second)
    submit(driver)
    assert "Approve on your phone" not in driver.title, "the old password no longer logs in"
    driver.get(lanyard.url + "/console/login")
    fill(driver, email="ada@ap.example", password=third)
    submit(driver)
    assert "Approve on your phone" in driver.title
    assert_no_console_errors(driver)
