"""The web UI in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by selenium (PyPI) against a region with its embedded PostgreSQL on loopback. Logs in
with the admin token, creates a machine through the form, commissions it and sees its status
change; bulk actions and the confirm dialog; no console errors (the Content-Security-Policy lets
the region's own script and stylesheet through). Screenshots of the main pages with real data go
to $RACKPLANE_SCREENSHOTS when set (docs/screenshots is where the docs expect them).
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile

import pytest

from regionlab import RegionProcess, populate

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (PyPI) is not installed: scripts/setup installs it")
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.skipif(not os.path.isdir("/usr/lib/postgresql"), reason="PostgreSQL (Debian's postgresql) is not installed"),
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason="chromium and chromium-driver (Debian) are not installed: scripts/setup installs them"),
]

#: Screenshots are kept small: the docs link them, and git keeps every version.
SCREENSHOT_LIMIT = 200 * 1024


@pytest.fixture(scope="module")
def region():
    region = RegionProcess()
    try:
        region.ids = populate(region)
        yield region
    finally:
        region.stop()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,800", "--hide-scrollbars", "--force-device-scale-factor=1"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    profile = tempfile.mkdtemp(prefix="rackplane-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    # The viewport itself, not the window around it: screenshots are exactly 1280x800.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver, condition):
    # A click navigates: an element found on the page being left goes stale as the next one
    # loads, which only means "not yet".
    return WebDriverWait(driver, 20, ignored_exceptions=[StaleElementReferenceException, NoSuchElementException]).until(condition)


def log_in(driver, region):
    driver.delete_all_cookies()
    driver.get(region.base + "/ui/machines")
    # Without a session every page leads to the login form.
    wait(driver, expected_conditions.url_to_be(region.base + "/ui/login"))
    driver.find_element(By.ID, "token").send_keys(region.token)
    driver.find_element(By.CSS_SELECTOR, ".login button[type=submit]").click()
    wait(driver, expected_conditions.url_to_be(region.base + "/ui/machines"))


def status_of(driver) -> str:
    return driver.find_element(By.ID, "machine-status").text


def severe_console_messages(driver) -> list[str]:
    """Script errors and Content-Security-Policy violations. A page answered with a 4xx on
    purpose (a refused form) is logged too, and is no error of the page."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and "the server responded with a status of 4" not in entry["message"]]


def test_log_in_create_a_machine_commission_it_and_see_its_status_change(region, browser):
    browser.get(region.base + "/ui/login")
    browser.find_element(By.ID, "token").send_keys("rp_not-a-token")
    browser.find_element(By.CSS_SELECTOR, ".login button[type=submit]").click()
    assert "Unknown token" in wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".login .error")).text

    log_in(browser, region)
    cookie = browser.get_cookie("rackplane_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert "node-01" in browser.find_element(By.ID, "machines").text
    # The stylesheet applied (the CSP lets the region's own through).
    assert browser.find_element(By.CSS_SELECTOR, "header.top").value_of_css_property("background-color") == "rgba(29, 35, 48, 1)"

    browser.find_element(By.LINK_TEXT, "Add machine").click()
    wait(browser, expected_conditions.url_to_be(region.base + "/ui/machines/new"))
    browser.find_element(By.ID, "hostname").send_keys("web-01")
    Select(browser.find_element(By.ID, "architecture")).select_by_visible_text("arm64")
    Select(browser.find_element(By.ID, "power_type")).select_by_visible_text("redfish")
    browser.find_element(By.ID, "mac").send_keys("52:54:00:ab:00:01")
    Select(browser.find_element(By.ID, "subnet_id")).select_by_visible_text("198.18.0.0/24 pxe")
    # An address in the dynamic range is refused, and the form comes back with the reason.
    browser.find_element(By.ID, "ip").send_keys("198.18.0.120")
    browser.find_element(By.CSS_SELECTOR, "#machine-new button[type=submit]").click()
    error = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "p.error"))
    assert "a static address may not be inside a dynamic range" in error.text
    assert browser.find_element(By.ID, "hostname").get_attribute("value") == "web-01"
    address = browser.find_element(By.ID, "ip")
    address.clear()
    address.send_keys("198.18.0.50")
    browser.find_element(By.CSS_SELECTOR, "#machine-new button[type=submit]").click()

    wait(browser, lambda d: "/ui/machines/new" not in d.current_url and d.find_elements(By.ID, "machine-status"))
    assert status_of(browser) == "new"
    assert "created web-01" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert "198.18.0.50" in browser.find_element(By.ID, "interfaces").text
    machine_id = int(browser.current_url.rsplit("/", 1)[1])
    assert region.api("GET", f"/machines/{machine_id}")[1]["architecture"] == "arm64"

    browser.find_element(By.CSS_SELECTOR, "button[value=commission]").click()
    wait(browser, lambda d: status_of(d) == "commissioning")
    assert "commission: web-01 is now commissioning" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert region.api("GET", f"/machines/{machine_id}")[1]["status"] == "commissioning"
    events = browser.find_element(By.ID, "events").text
    assert "commission" in events and "create" in events
    # Only the actions the state allows are offered.
    offered = {button.get_attribute("value") for button in browser.find_elements(By.CSS_SELECTOR, ".actions button")}
    assert offered == {"complete", "mark-broken"}

    browser.find_element(By.CSS_SELECTOR, "button[value=complete]").click()
    wait(browser, lambda d: status_of(d) == "ready")

    browser.get(region.base + "/ui/machines?status=commissioning")
    assert "web-01" not in browser.find_element(By.ID, "machines").text
    browser.get(region.base + "/ui/machines?q=web-01")
    assert "ready" in browser.find_element(By.ID, "machines").text
    assert severe_console_messages(browser) == []


def test_bulk_actions_and_the_confirm_dialog(region, browser):
    log_in(browser, region)
    browser.get(region.base + "/ui/machines?status=new")
    rows = browser.find_elements(By.CSS_SELECTOR, "#machines tbody tr")
    assert len(rows) >= 2
    # The header checkbox (the page's script) selects every row.
    browser.find_element(By.CSS_SELECTOR, "input[data-select-all]").click()
    assert all(box.is_selected() for box in browser.find_elements(By.CSS_SELECTOR, "#machines tbody input[type=checkbox]"))
    names = [row.find_element(By.CSS_SELECTOR, "td:nth-child(2) a").text for row in rows]
    browser.find_element(By.CSS_SELECTOR, ".bulk button[value=commission]").click()
    flash = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".flash")).text
    assert f"commission: {len(names)} of {len(names)} machines" in flash
    # The filter survives the round trip: no machine is new any more.
    assert browser.current_url.endswith("/ui/machines?status=new")
    assert browser.find_elements(By.CSS_SELECTOR, "#machines tbody input[type=checkbox]") == []
    for name in names:
        assert region.api("GET", f"/machines/{region.ids['machines'][name]}")[1]["status"] == "commissioning"

    deployed = region.ids["machines"]["node-01"]
    browser.get(region.base + f"/ui/machines/{deployed}")
    browser.find_element(By.CSS_SELECTOR, "button[value=release]").click()
    alert = wait(browser, expected_conditions.alert_is_present())
    assert "Release this machine?" in alert.text
    alert.dismiss()
    assert status_of(browser) == "deployed"
    browser.find_element(By.CSS_SELECTOR, "button[value=release]").click()
    wait(browser, expected_conditions.alert_is_present()).accept()
    wait(browser, lambda d: status_of(d) == "releasing")
    assert severe_console_messages(browser) == []


def png_size(path: str) -> tuple[int, int]:
    with open(path, "rb") as image:
        header = image.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_screenshots_of_the_main_pages(region, browser, tmp_path):
    log_in(browser, region)
    # Without RACKPLANE_SCREENSHOTS they go to pytest's own temporary directory, which it
    # cleans up (a directory of its own under /tmp was left behind by every run).
    target = os.environ.get("RACKPLANE_SCREENSHOTS") or str(tmp_path)
    os.makedirs(target, exist_ok=True)
    ids = region.ids
    pages = [
        ("machines", "/ui/machines", "node-01"),
        ("machine", f"/ui/machines/{ids['machines']['node-02']}", "52:54:00:12:01:02"),
        ("machine-new", "/ui/machines/new", "Boot interface"),
        ("subnets", "/ui/subnets", "198.18.8.0/22"),
        ("subnet", f"/ui/subnets/{ids['subnet']}", "switches and BMCs"),
        ("leases", "/ui/leases", "unknown-laptop"),
        ("racks", "/ui/racks", "rack-b"),
        ("dns", "/ui/dns", "mirror.lab.example"),
        ("boot-resources", "/ui/boot-resources", "ubuntu/noble"),
        ("events", "/ui/events", "login"),
    ]
    for name, path, expected in pages:
        browser.get(region.base + path)
        assert expected in browser.find_element(By.TAG_NAME, "main").text, path
        file = os.path.join(target, f"{name}.png")
        assert browser.save_screenshot(file)
        assert png_size(file) == (1280, 800)
        assert os.path.getsize(file) < SCREENSHOT_LIMIT, f"{file}: {os.path.getsize(file)} bytes"
    # The machine page's boot history, below the fold.
    browser.get(f"{region.base}/ui/machines/{ids['machines']['node-02']}")
    history = browser.find_element(By.ID, "boots")
    assert "Boot at" in history.text and "/ubuntu/noble/amd64/initrd.img" in history.text
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.XPATH, "//h2[text()='Boot history']"))
    file = os.path.join(target, "machine-boots.png")
    assert browser.save_screenshot(file) and os.path.getsize(file) < SCREENSHOT_LIMIT
    browser.delete_all_cookies()
    browser.get(region.base + "/ui/login")
    browser.save_screenshot(os.path.join(target, "login.png"))
    assert severe_console_messages(browser) == []
