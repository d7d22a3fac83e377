"""A browser test of `make lab`: JupyterLab started as `make lab` starts it (127.0.0.1, a random
token), a claim notebook opened in headless Chromium (Debian's chromium + chromedriver, driven by
selenium), every cell run from the Run menu; the verdict line must appear and no output may hold a
Traceback. Skipped only where chromium is absent (never in CI); a screenshot of a failure goes to
build/."""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from ntkrepro.provenance import REPO_ROOT

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
HAVE = os.path.exists(CHROMIUM) and os.path.exists(DRIVER)
NOTEBOOK = "01_factorized_ntk.ipynb"  # the fastest smoke profile

if not HAVE and os.environ.get("CI"):
    pytest.fail("CI must run the browser test: install Debian's chromium and chromium-driver "
                "(.ci/run does)", pytrace=False)
pytestmark = [pytest.mark.browser, pytest.mark.notebook,
              pytest.mark.skipif(not HAVE, reason=f"chromium not installed ({CHROMIUM}, {DRIVER}); "
                                                  "apt-get install chromium chromium-driver")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} " \
           f"--LabApp.workspaces_dir={tmp_path}"
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=REPO_ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
    if proc.poll() is not None:
        pytest.fail(f"`make lab` exited: {(tmp_path / 'lab.log').read_text()[-2000:]}")
    yield url, token
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_run_all_in_jupyterlab(lab):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    url, token = lab
    # a copy of the pair, so that JupyterLab's autosave never writes outputs into the committed notebook
    src = REPO_ROOT / "notebooks" / NOTEBOOK
    copy = src.with_name(f"zz_browser_{os.getpid()}_{NOTEBOOK}")
    shutil.copyfile(src, copy)
    shutil.copyfile(src.with_suffix(".py"), copy.with_suffix(".py"))
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    shot = REPO_ROOT / "build" / "browser-failure.png"
    try:
        driver.get(f"{url}/lab/tree/{copy.name}?token={token}")
        wait = WebDriverWait(driver, 120)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")))
        # the kernel is up when the status bar reads "<kernel> | Idle"
        wait.until(lambda d: "| Idle" in d.find_element(By.ID, "jp-main-statusbar").text)
        menu = wait.until(EC.element_to_be_clickable(
            (By.XPATH, "//div[contains(@class,'lm-MenuBar-itemLabel') and normalize-space()='Run']")))
        menu.click()
        item = wait.until(EC.element_to_be_clickable(
            (By.XPATH, "//div[contains(@class,'lm-Menu-itemLabel') and normalize-space()='Run All Cells']")))
        item.click()

        def outputs(d):
            return " ".join(e.text for e in d.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output"))

        WebDriverWait(driver, 300, poll_frequency=1).until(
            lambda d: "verdict:" in outputs(d) or "Traceback" in outputs(d) or "Error" in outputs(d))
        text = outputs(driver)
        assert "Traceback" not in text, text[-3000:]
        assert "verdict:" in text
    except BaseException:
        shot.parent.mkdir(exist_ok=True)
        driver.save_screenshot(str(shot))
        raise
    finally:
        driver.quit()
        for p in (copy, copy.with_suffix(".py")):
            p.unlink(missing_ok=True)


def test_lab_keeps_pairs_in_sync(lab):
    """Through `make lab`'s contents manager (jupytext): saving a notebook writes its paired .py, and
    an edit of the .py shows up when the notebook is opened again."""
    import json

    url, token = lab
    name = "zz_pair_check"
    nb_path, py_path = REPO_ROOT / "notebooks" / f"{name}.ipynb", REPO_ROOT / "notebooks" / f"{name}.py"

    def api(method, path, body=None):
        req = urllib.request.Request(f"{url}/api/contents/{path}?token={token}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "first version"}],
          "metadata": {"kernelspec": {"name": "ntkrepro", "display_name": "Python 3 (ntkrepro)",
                                      "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    try:
        api("PUT", f"{name}.ipynb", {"type": "notebook", "format": "json", "content": nb})
        assert "first version" in py_path.read_text()
        time.sleep(1.1)  # the .py must be newer than the .ipynb
        py_path.write_text(py_path.read_text().replace("first version", "edited in the .py"))
        got = api("GET", f"{name}.ipynb")
        assert got["content"]["cells"][0]["source"] == "edited in the .py"
    finally:
        for p in (nb_path, py_path):
            p.unlink(missing_ok=True)
