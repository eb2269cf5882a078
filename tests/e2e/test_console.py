"""The web console at `/`, driven in real headless Chromium (Debian's chromium and
chromium-driver, through Selenium) against `cuvee quickstart`: events stream into the
`clickstream` table while the test runs a query, charts it, reads an error, opens a
table's segments, pauses and resumes the consumer, proposes a table from a topic and
creates it. Screenshots go to $CUVEE_E2E_REPORT/console (target/e2e-report by default).
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from kafka_broker import free_port

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPORT = Path(os.environ.get("CUVEE_E2E_REPORT", "target/e2e-report")) / "console"


def http(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def count(base, table):
    answer = http(base, "POST", "/query/sql", {"sql": f"SELECT COUNT(*) FROM {table}"})
    if answer.get("exceptions"):
        return -1
    return answer["resultTable"]["rows"][0][0]


@pytest.fixture(scope="module")
def quickstart(cuvee_binary):
    data = tempfile.mkdtemp(prefix="cuvee-console-")
    port = free_port()
    command = [
        cuvee_binary, "quickstart", "--data-dir", data, "--listen", f"127.0.0.1:{port}",
        "--pg-listen", f"127.0.0.1:{free_port()}", "--flight-listen", f"127.0.0.1:{free_port()}",
        "--events-per-second", "300",
    ]
    log = open(os.path.join(data, "quickstart.log"), "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if count(base, "clickstream") > 0:
                    break
            except OSError:
                pass
            assert process.poll() is None, open(os.path.join(data, "quickstart.log")).read()
            time.sleep(0.3)
        else:
            pytest.fail("the quickstart's clickstream table never had rows")
        printed = open(os.path.join(data, "quickstart.log")).read()
        assert f"Console: http://127.0.0.1:{port}/" in printed, "the quickstart prints the console's address"
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are needed (scripts/setup.sh installs them)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not try to download a driver.
    profile = tempfile.mkdtemp(prefix="cuvee-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1440,960", f"--user-data-dir={profile}",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    REPORT.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver, condition, timeout=20):
    # Live views re-render every two seconds: an element found a moment ago may be gone.
    return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(condition)


def click(driver, css):
    """Clicks what `css` finds now, again if a re-render replaced it first."""
    def attempt(d):
        d.find_element(By.CSS_SELECTOR, css).click()
        return True
    wait(driver, attempt)


def shot(driver, name):
    driver.save_screenshot(str(REPORT / f"{name}.png"))


def run_sql(driver, sql):
    editor = driver.find_element(By.ID, "sql")
    editor.clear()
    editor.send_keys(sql)
    editor.send_keys(Keys.CONTROL, Keys.ENTER)


def no_script_errors(driver):
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def test_query_chart_and_error(quickstart, browser):
    browser.get(quickstart + "/")
    assert browser.title == "cuvee console"
    wait(browser, EC.text_to_be_present_in_element((By.ID, "health"), "healthy"))

    run_sql(browser, "SELECT country, COUNT(*) AS events, SUM(revenue) AS revenue FROM clickstream GROUP BY country ORDER BY events DESC")
    rows = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#result-table tbody tr"))
    assert len(rows) >= 3, "a row per country"
    headers = [th.text.split("\n")[0] for th in browser.find_elements(By.CSS_SELECTOR, "#result-table th")]
    assert headers == ["country", "events", "revenue"]
    stats = browser.find_element(By.ID, "query-stats").text
    assert "docs scanned" in stats and "segments matched" in stats and "server time" in stats
    shot(browser, "1-query-table")

    browser.find_element(By.CSS_SELECTOR, "#result-mode button[data-mode=chart]").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart canvas"))
    assert browser.find_element(By.ID, "chart").get_attribute("data-kind") == "bar", "labels and numbers: bars"
    shot(browser, "2-query-bar-chart")

    run_sql(browser, "SELECT yearID, SUM(homeRuns) AS home_runs, SUM(hits) / 10 AS hits_tenths FROM baseballStats GROUP BY yearID ORDER BY yearID")
    wait(browser, lambda d: d.find_element(By.ID, "chart").get_attribute("data-kind") == "line")
    assert browser.find_elements(By.CSS_SELECTOR, "#chart canvas")
    shot(browser, "3-query-line-chart")

    run_sql(browser, "SELECT no_such_column FROM clickstream")
    error = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "#query-status.error")))
    assert "Pinot error 710" in error.text and "no_such_column" in error.text, error.text
    shot(browser, "4-query-error")

    browser.find_element(By.CSS_SELECTOR, "#result-mode button[data-mode=table]").click()
    run_sql(browser, "SELECT COUNT(*) FROM clickstream WHERE country = 'US'")
    browser.find_element(By.ID, "explain").click()
    plan = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results pre.plan"))
    assert any("SegmentScanExec" in p.text and "country" in p.text for p in plan), [p.text for p in plan]
    history = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#history li")]
    assert history[0].startswith("SELECT COUNT(*) FROM clickstream WHERE country"), history
    shot(browser, "5-explain-analyze")
    no_script_errors(browser)


def test_tables_and_segments(quickstart, browser):
    browser.get(quickstart + "/#tables/baseballStats")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#segment-table tbody tr"))
    page = browser.find_element(By.ID, "table-detail").text
    assert "97,889 rows" in page and "playerID" in page and "inverted" in page, page[:500]
    browser.find_element(By.CSS_SELECTOR, "#segment-table tbody tr.clickable").click()
    detail = wait(browser, EC.visibility_of_element_located((By.ID, "segment-detail")))
    assert "= and IN as bitmaps" in detail.text, "each index says what it answers"
    shot(browser, "6-table-segments")

    browser.get(quickstart + "/#tables/clickstream")
    wait(browser, lambda d: "CONSUMING" in d.find_element(By.ID, "table-detail").text)
    shot(browser, "7-realtime-table")
    no_script_errors(browser)


def test_pause_and_resume_a_consumer(quickstart, browser):
    browser.get(quickstart + "/#consumers")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card[data-table=clickstream] tbody tr[data-partition]")) == 4)
    time.sleep(4.5)  # a few polls: the lag sparkline has points
    shot(browser, "8-consumers")

    click(browser, ".card[data-table=clickstream] button.pause")
    wait(browser, lambda d: http(quickstart, "GET", "/tables/clickstream/pauseStatus")["pauseFlag"] is True)
    wait(browser, lambda d: "paused" in d.find_element(By.CSS_SELECTOR, ".card[data-table=clickstream] .card-head").text)
    frozen = count(quickstart, "clickstream")
    time.sleep(1.5)
    assert count(quickstart, "clickstream") == frozen, "a paused consumer adds no rows"
    shot(browser, "9-consumer-paused")

    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".card[data-table=clickstream] button.resume").is_enabled())
    click(browser, ".card[data-table=clickstream] button.resume")
    wait(browser, lambda d: http(quickstart, "GET", "/tables/clickstream/pauseStatus")["pauseFlag"] is False)
    wait(browser, lambda d: count(quickstart, "clickstream") > frozen, timeout=30)
    no_script_errors(browser)


def test_a_table_from_a_topic(quickstart, browser):
    first = {t["topic"]: t for t in http(quickstart, "GET", "/topics")["topics"]}
    time.sleep(1.2)
    second = {t["topic"]: t for t in http(quickstart, "GET", "/topics")["topics"]}
    assert second["clickstream"]["messages"] > first["clickstream"]["messages"]
    assert second["clickstream"]["ratePerSecond"] > 0, "the stream's message rate"
    browser.get(quickstart + "/#topics/clickstream")
    wait(browser, lambda d: d.find_elements(By.ID, "infer-config"))
    config = json.loads(browser.find_element(By.ID, "infer-config").get_attribute("value"))
    assert config["tableName"] == "clickstream" and config["segmentsConfig"]["timeColumnName"] == "ts"
    assert set(config["tableIndexConfig"]["invertedIndexColumns"]) >= {"country", "device", "event_type"}
    shot(browser, "10-topic-proposal")

    # The proposal as the page shows it, under a new name, created from the page.
    renamed = dict(config, tableName="clicks_from_console")
    renamed["segmentsConfig"] = dict(config["segmentsConfig"], schemaName="clicks_from_console")
    schema = json.loads(browser.find_element(By.ID, "infer-schema").get_attribute("value"))
    schema["schemaName"] = "clicks_from_console"
    browser.execute_script(
        "document.getElementById('infer-config').value = arguments[0];"
        "document.getElementById('infer-schema').value = arguments[1];",
        json.dumps(renamed), json.dumps(schema))
    browser.find_element(By.ID, "create-table").click()
    wait(browser, lambda d: d.current_url.endswith("#tables/clicks_from_console"))
    wait(browser, lambda d: count(quickstart, "clicks_from_console") > 0, timeout=30)
    browser.get(quickstart + "/#servers")
    wait(browser, lambda d: "healthy" in d.find_element(By.ID, "servers").text)
    shot(browser, "11-servers")
    no_script_errors(browser)
