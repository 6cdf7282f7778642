"""The report as a person sees it: headless Chromium (Debian's `chromium` and
`chromium-driver`) loads the overview, a country page and a group page from disk. No console
error, no request leaving the machine, charts drawn; screenshots stay in the test's tmp folder."""
import os
import shutil

import pytest

from tests.conftest import HEADER, drop, run

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless Chromium is not installed: `apt-get install chromium chromium-driver` (see README, .ci/run)",
)
REGISTER = ("country,instrument_type,title,identifier,adopted_on,in_force_from,in_force_to,status,source\n"
            "Perú,comprehensive_vaw_law,Ley 30364,30364,2015-11-23,,,in_force,https://www.gob.pe/ley-30364\n"
            "Perú,national_plan_vaw,Plan Nacional 2016-2021,DS 008-2016-MIMP,,2016,2021,expired,El Peruano\n"
            "Perú,belem_do_para_ratification,Convención de Belém do Pará,OEA A-61,1996-04-02,,,in_force,OEA\n")


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never downloads a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--window-size=1280,1600", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver) -> list[str]:
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_the_report_in_a_real_browser(settings, browser, tmp_path):
    from selenium.webdriver.common.by import By

    drop(settings, "registro/leyes.csv", REGISTER)
    drop(settings, "mimp/carga.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\nPerú,2016,femicide_count,124,MIMP\n")
    run(settings)
    report = settings.report_dir.resolve()
    for name, page, least_charts in (("overview", "index.html", 3), ("country", "country/PER.html", 3),
                                     ("group", "group/MIRPS.html", 2), ("country_en", "en/country/PER.html", 3)):
        browser.get((report / page).as_uri())
        assert browser.title, page
        charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
        assert len(charts) >= least_charts, page
        for chart in charts:
            size = chart.size
            assert size["width"] > 50 and size["height"] > 20, page
            assert chart.find_elements(By.CSS_SELECTOR, "rect, circle, polygon, polyline"), page
            assert chart.find_element(By.TAG_NAME, "title").get_attribute("textContent").strip(), page
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == [], (page, errors)
        # file:// pages, data: URIs and Chromium's own pages (chrome://, and chrome-untrusted://,
        # which Chromium 150 loads for its new-tab page) stay on the machine
        leaving = [u for u in requested_urls(browser)
                   if not u.startswith(("file://", "data:", "about:", "chrome://", "chrome-untrusted://"))]
        assert leaving == [], (page, leaving)
        browser.save_screenshot(str(tmp_path / f"{name}.png"))  # kept with the test's tmp folder
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    # the page's numbers are the ones a reader sees
    browser.get((report / "country" / "PER.html").as_uri())
    assert browser.find_element(By.ID, "progress-score").text.strip() not in ("", "0", "desconocido")
    link = browser.find_element(By.CSS_SELECTOR, "#instruments a[href^='https://www.gob.pe/']")
    assert link.text == "https://www.gob.pe/ley-30364"
