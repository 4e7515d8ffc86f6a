"""Django's admin in a real browser (headless Chromium on the controller) through nginx: the
page's CSP lets the admin load its own CSS and JS, and a login works. The browser resolves
model.test to the Django host and no other name, so it talks to nothing else."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from hostcheck import curl
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from tlsaudit import address

ADMIN = ("admin", "molecule-admin-password")  # molecule.yml
# Records every CSP violation of a page, from the first byte on.
RECORD_VIOLATIONS = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)
QUIET = [  # no background traffic: updates, sync, metrics
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
]


@pytest.fixture
def browser(host) -> Iterator[webdriver.Chrome]:
    os.environ["SE_AVOID_STATS"] = "true"  # selenium would otherwise phone home
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--ignore-certificate-errors",  # the certificate is pebble's, a test CA
        f"--host-resolver-rules=MAP model.test {address(host)}, MAP * ~NOTFOUND",
        "--window-size=1280,900",
        *QUIET,
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    try:
        yield driver
    finally:
        driver.quit()


def csp_problems(driver: webdriver.Chrome) -> list[str]:
    console = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
    return list(driver.execute_script("return window.__csp")) + console


def test_admin_styles_apply_and_login_works_under_its_csp(browser: webdriver.Chrome) -> None:
    browser.get("https://model.test/admin/login/")
    assert browser.title.startswith("Log in")
    sheets = browser.execute_script(
        "return Array.from(document.styleSheets).filter(s => s.href && s.cssRules.length > 0).length"
    )
    assert sheets >= 2  # base.css, login.css, ... loaded and parsed
    header = browser.execute_script("return getComputedStyle(document.getElementById('header')).backgroundColor")
    assert header not in ("rgba(0, 0, 0, 0)", "transparent"), header  # unstyled without base.css
    assert csp_problems(browser) == []

    browser.find_element(By.ID, "id_username").send_keys(ADMIN[0])
    browser.find_element(By.ID, "id_password").send_keys(ADMIN[1])
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 20).until(expected_conditions.url_to_be("https://model.test/admin/"))
    assert "Site administration" in browser.page_source
    assert browser.find_element(By.ID, "user-tools").text.upper().startswith("WELCOME, ADMIN")
    assert csp_problems(browser) == []


def test_security_headers_come_from_nginx_alone(host) -> None:
    # Django itself sends none of them (asked directly on gunicorn's socket, as nginx asks it)...
    direct = host.run(
        "curl -s -D - -o /dev/null --unix-socket /srv/model/current/gunicorn.sock"
        " -H 'Host: model.test' -H 'X-Forwarded-Proto: https' http://model.test/admin/login/"
    ).stdout
    assert direct.startswith("HTTP/1.1 200"), direct
    owned = ("strict-transport-security", "x-frame-options", "x-content-type-options", "referrer-policy")
    assert [n for n in owned if re.search(rf"(?im)^{n}:", direct)] == [], direct
    # ...and through nginx each comes exactly once.
    raw = host.run(
        "curl -sk -D - -o /dev/null --resolve model.test:443:127.0.0.1 https://model.test/admin/login/"
    ).stdout
    names = [line.split(":", 1)[0].lower() for line in raw.splitlines() if ":" in line]
    for name in (*owned, "content-security-policy"):
        assert names.count(name) == 1, (name, raw)
    assert re.search(r"(?im)^strict-transport-security: max-age=63072000\r?$", raw), raw
    assert curl(host, "https://localhost/v2/health/live").headers["content-security-policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )
