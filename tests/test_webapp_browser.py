"""The web page in a real browser: ``asteroid-wsas serve`` on a loopback port, driven by the
system's headless Chromium through Selenium and the system's chromedriver.

Skipped where Chromium, chromedriver, Gradio or Selenium are missing, unless
``WSAS_REQUIRE_BROWSER=1`` (CI sets it: there a missing browser is a failure).
Set ``WSAS_SCREENSHOT=docs/images/web_app.png`` to keep screenshots of the page at
1400x1000 before and after running an example (``web_app_before.png``, ``web_app_after.png``),
``WSAS_SCREENSHOT_PHONE=docs/images/web_app_phone.png`` for the same at 390x844 (the phone
test's own run), and ``WSAS_WEBAPP_MODEL`` to serve a trained model instead of the
random-initialised one.
"""

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _missing() -> str:
    try:
        import gradio  # noqa: F401
        import selenium  # noqa: F401
    except ImportError as err:
        return f"{err.name} is not installed"
    if not CHROMIUM or not CHROMEDRIVER:
        return "chromium and chromium-driver (apt) are not installed"
    return ""


if _missing():
    if os.environ.get("WSAS_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"WSAS_REQUIRE_BROWSER=1 but {_missing()}")
    pytest.skip(_missing(), allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.helpers import default_signals  # noqa: E402

RATE, SECONDS = 44100, 2.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``asteroid-wsas serve`` in a subprocess on a free loopback port."""

    def __init__(self, model: str, *options: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        command = [sys.executable, "-m", "asteroid_wsas.cli", "serve", "--model", model]
        command += ["--host", "127.0.0.1", "--port", str(self.port), *options]
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=default_signals,  # SIGINT stops it even where the tests run under nohup
        )
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    pytest.fail(f"the server did not start:\n{self.output}")
                time.sleep(0.5)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # as Ctrl+C: the page cleans its files
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.output = self.proc.stdout.read()
        return self.output


@pytest.fixture(scope="module")
def browser():
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,2200")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server():
    running = Server(os.environ.get("WSAS_WEBAPP_MODEL", "random"), "--max-size-mb", "1")
    yield running
    running.stop()


def _wave(tmp_path: Path, name: str, wave: np.ndarray, rate: int = RATE) -> str:
    path = tmp_path / name
    sf.write(path, wave.astype(np.float32), rate, subtype="PCM_16")
    return str(path)


def _stereo() -> np.ndarray:
    t = np.arange(int(SECONDS * RATE)) / RATE
    rng = np.random.default_rng(0)
    left = 0.4 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
    right = 0.1 * rng.standard_normal(t.size) + 0.2 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right], 1)


def _open(driver, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#wsas-input input[type=file]")
    )


def _submit(driver, audio, queries: str = "", negative: str = "", residual: bool = False):
    if audio is not None:
        driver.find_element(By.CSS_SELECTOR, "#wsas-input input[type=file]").send_keys(audio)
        time.sleep(1.0)  # the upload finishes before the click is sent
    if queries:
        driver.find_element(By.CSS_SELECTOR, "#wsas-queries textarea").send_keys(queries)
    if negative:
        driver.find_element(By.CSS_SELECTOR, "#wsas-negative textarea").send_keys(negative)
    if residual:
        driver.find_element(By.CSS_SELECTOR, "#wsas-residual input").click()
    driver.find_element(By.ID, "wsas-run").click()


def _status(driver, timeout: float = 120, old: str = "") -> str:
    """The status line once the request has answered and finished (with a line other than
    ``old``, the answer to the page's previous request; pictures drawn, Separate back)."""

    def answered(d):
        text = d.find_element(By.ID, "wsas-status").text
        if not ("Separated" in text or "Error" in text) or text == old:
            return False
        button = d.find_element(By.ID, "wsas-run")
        return text if button.is_enabled() and button.text == "Separate" else False

    return WebDriverWait(driver, timeout).until(answered)


def _playable_seconds(driver, href: str) -> float:
    """Duration the browser itself decodes from ``href`` (-1 if it cannot play it)."""
    return driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const audio = new Audio();
        audio.preload = 'auto';
        audio.onloadeddata = () => done(audio.duration);
        audio.onerror = () => done(-1);
        audio.src = arguments[0];""",
        href,
    )


def test_page_separates_an_uploaded_stereo_file(server, browser, tmp_path):
    wave = _stereo()
    _open(browser, server.url)
    _submit(browser, _wave(tmp_path, "stereo.wav", wave), "a violin\na dog barks")
    status = _status(browser)
    assert "Separated 2 output(s)" in status and "44100 Hz, 2 channel(s)" in status
    for k, query in enumerate(["a violin", "a dog barks"]):
        slot = browser.find_element(By.ID, f"wsas-output-{k}")
        assert query in slot.text
        href = slot.find_element(By.CSS_SELECTOR, "a[download]").get_attribute("href")
        assert href.startswith(server.url)
        data, rate = sf.read(io.BytesIO(urllib.request.urlopen(href).read()), always_2d=True)
        assert rate == RATE and data.shape == wave.shape
        assert abs(_playable_seconds(browser, href) - SECONDS) < 0.05
        image = browser.find_element(By.CSS_SELECTOR, f"#wsas-spectrogram-{k} img")
        assert browser.execute_script("return arguments[0].naturalWidth", image) > 300
        score = browser.find_element(By.ID, f"wsas-score-{k}").text
        assert "presence" in score and "dB" in score
    shown = browser.find_element(By.CSS_SELECTOR, "#wsas-input-spectrogram img")
    assert browser.execute_script("return arguments[0].naturalWidth", shown) > 300
    assert not browser.find_elements(By.ID, "wsas-output-2")  # no third output
    # the zip is built when asked: its button, then the file's link
    assert not [e for e in browser.find_elements(By.ID, "wsas-zip") if e.is_displayed()]
    browser.find_element(By.ID, "wsas-make-zip").click()
    archive = WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#wsas-zip a[download]")
    )
    assert archive.get_attribute("href").endswith(".zip")
    with zipfile.ZipFile(
        io.BytesIO(urllib.request.urlopen(archive.get_attribute("href")).read())
    ) as zf:
        assert {"a_violin.wav", "a_dog_barks.wav", "input.png"} <= set(zf.namelist())


def test_page_runs_a_shipped_example(server, browser):
    _open(browser, server.url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#wsas-examples tr.tr-body")
    assert len(rows) >= 2
    shot = os.environ.get("WSAS_SCREENSHOT")
    if shot:
        browser.set_window_size(1400, 1000)  # the size the docs' pictures show
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", rows[0])
    rows[0].find_element(By.CSS_SELECTOR, "td").click()  # fills the audio and the queries
    WebDriverWait(browser, 30).until(
        lambda d: "violin"
        in d.find_element(By.CSS_SELECTOR, "#wsas-queries textarea").get_attribute("value")
    )
    if shot:
        time.sleep(1.0)  # the example's waveform is drawn
        browser.execute_script("window.scrollTo(0, 0)")
        _screenshot(browser, shot.replace(".png", "_before.png"))
    _submit(browser, None)
    status = _status(browser)
    assert "Separated 2 output(s)" in status and "16000 Hz, 1 channel(s)" in status
    assert "The sound of violin" in browser.find_element(By.ID, "wsas-output-0").text
    if shot:
        browser.execute_script("window.scrollTo(0, 0)")
        _screenshot(browser, shot.replace(".png", "_after.png"))
        browser.set_window_size(1400, 2200)


def _screenshot(driver, path: str) -> None:
    """A screenshot for the docs, in 256 colours when Pillow is there (a few 100 KB)."""
    driver.save_screenshot(path)
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256)
    small.save(path, optimize=True)


def test_page_answers_bad_input_with_a_message(server, browser, tmp_path):
    good = _wave(tmp_path, "good.wav", _stereo())
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio" * 100)
    silent = _wave(tmp_path, "silent.wav", np.zeros((RATE, 2)))
    cases = [
        (None, "a violin", "Upload or record some audio first"),
        (good, "", "Type at least one query"),
        (str(garbage), "a violin", "garbage.wav is not readable audio"),
        (silent, "a violin", "The audio is silent"),
    ]
    for audio, queries, message in cases:
        _open(browser, server.url)
        _submit(browser, audio, queries)
        status = _status(browser)
        assert message in status and "Traceback" not in browser.page_source
        if audio == str(garbage):  # said at upload already, in one line without errno
            note = browser.find_element(By.ID, "wsas-upload-note").text
            assert note.startswith("garbage.wav is not readable audio") and "Errno" not in note
            assert "Errno" not in status
    # over the size limit (1 MB here): Gradio refuses the upload, the page says why
    big = _wave(tmp_path, "big.wav", np.tile(_stereo(), (3, 1)))
    assert os.path.getsize(big) > 2**20
    _open(browser, server.url)
    _submit(browser, big, "a violin")
    toast = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=toast-text]")
    )
    assert "exceed the maximum allowed size" in toast[0].text and "big.wav" in toast[0].text
    assert "Upload or record some audio first" in _status(browser)  # nothing was uploaded


def test_page_says_when_the_model_did_not_load(browser, tmp_path):
    failing = Server(str(tmp_path / "no-such-model"))
    try:
        _open(browser, failing.url)
        banner = browser.find_element(By.ID, "wsas-model-error").text
        assert "could not be loaded" in banner and "no-such-model" in banner
        _submit(browser, _wave(tmp_path, "good.wav", _stereo()), "a violin")
        assert "The model could not be loaded" in _status(browser)
    finally:
        output = failing.stop()
    assert "error: the model could not be loaded" in output


def test_stopping_the_server_removes_its_files(tmp_path):
    running = Server("random")
    output = running.stop()
    folder = [line.split(": ", 1)[1] for line in output.splitlines() if "temporary files" in line]
    assert folder, output
    assert not os.path.exists(folder[0])


# samples, every 50 ms while a request runs, what is on screen: the progress line's size
# while it names a chunk and lies in the window, and whether Separate was disabled
WATCH_JS = """
window.wsasSeen = {progress: 0, disabled: false, texts: [], playerFirst: false};
window.wsasWatch = setInterval(() => {
    // a player on screen while its spectrogram is still being drawn
    const player = document.getElementById('wsas-output-0');
    const picture = document.querySelector('#wsas-spectrogram-0 img');
    if (player && player.offsetParent && !(picture && picture.offsetParent)) {
        window.wsasSeen.playerFirst = true;
    }
    const line = document.getElementById('wsas-progress');
    const button = document.getElementById('wsas-run');
    if (line && (line.innerText || '').includes('chunk')) {
        const box = line.getBoundingClientRect();
        if (box.bottom > 0 && box.top < window.innerHeight) {
            const size = Math.min(box.width, box.height);
            window.wsasSeen.progress = Math.max(window.wsasSeen.progress, size);
            window.wsasSeen.texts.push(line.innerText);
        }
    }
    if (button && button.disabled) window.wsasSeen.disabled = true;
}, 50);
"""

# images without alt text, and buttons or links without a name, in the page's own parts
UNNAMED_JS = """
const bad = [];
const named = (el) => (el.getAttribute('aria-label') || el.getAttribute('title')
    || el.innerText || '').trim() || [...el.querySelectorAll('img')].some((i) => i.alt.trim());
for (const part of document.querySelectorAll('[id^=wsas-]')) {
    for (const img of part.querySelectorAll('img')) {
        if (!(img.getAttribute('alt') || '').trim()) bad.push('img in #' + part.id);
    }
    for (const el of part.querySelectorAll('button, a, [role=button]')) {
        if (!named(el)) bad.push(el.tagName.toLowerCase() + ' in #' + part.id + ': '
            + el.outerHTML.slice(0, 120));
    }
}
return bad;
"""


def _results_shown(driver, count: int) -> None:
    """Each of ``count`` outputs shows its player, score and spectrogram on screen."""
    for k in range(count):
        for part in ("output", "score", "spectrogram"):
            element = driver.find_element(By.ID, f"wsas-{part}-{k}")
            assert element.is_displayed(), f"wsas-{part}-{k} is hidden"
        image = driver.find_element(By.CSS_SELECTOR, f"#wsas-spectrogram-{k} img")
        assert driver.execute_script("return arguments[0].naturalWidth", image) > 200


def test_a_good_run_after_an_error_shows_everything_with_progress(server, browser, tmp_path):
    _open(browser, server.url)
    _submit(browser, None, "The sound of violin")  # no file: an error first
    error = _status(browser)
    assert "Upload or record some audio first" in error
    # 60 s at 8 kHz: seven chunks, long enough to watch the progress line
    t = np.arange(60 * 8000) / 8000
    wave = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sign(np.sin(2 * np.pi * 3 * t))
    path = _wave(tmp_path, "minute.wav", wave, 8000)
    browser.execute_script(WATCH_JS)
    # an unknown word: its warning keeps the "<unk> token" text
    _submit(browser, path, "\nThe sound of trumpet")
    status = _status(browser, timeout=300, old=error)
    seen = browser.execute_script("clearInterval(window.wsasWatch); return window.wsasSeen")
    assert "Separated 2 output(s)" in status and "8000 Hz, 1 channel(s)" in status
    assert "read as one <unk> token" in status and "'trumpet'" in status
    assert seen["progress"] >= 10, seen  # a bar and its line, in view, while chunks ran
    assert any("chunk" in text and "%" in text for text in seen["texts"]), seen
    assert seen["disabled"], "Separate stayed enabled during the request"
    assert seen["playerFirst"], "the players waited for the pictures"
    _results_shown(browser, 2)
    assert browser.find_element(By.ID, "wsas-input-spectrogram").is_displayed()
    assert browser.find_element(By.ID, "wsas-make-zip").is_displayed()
    # Gradio leaves hidden components out of the page
    assert not [e for e in browser.find_elements(By.ID, "wsas-progress") if e.is_displayed()]
    assert browser.find_element(By.ID, "wsas-run").is_enabled()
    assert browser.execute_script(UNNAMED_JS) == []
    # an error after results hides them; the next good run shows them again
    box = browser.find_element(By.CSS_SELECTOR, "#wsas-queries textarea")
    box.send_keys(Keys.CONTROL, "a")  # typed, not clear(): the page hears keys only
    box.send_keys(Keys.DELETE)
    browser.find_element(By.ID, "wsas-run").click()
    assert "Type at least one query" in _status(browser, old=status)
    assert not [e for e in browser.find_elements(By.ID, "wsas-output-0") if e.is_displayed()]


def test_page_on_a_phone(server, browser, tmp_path):
    browser.set_window_size(390, 844)
    try:
        _open(browser, server.url)
        width = "return [document.documentElement.scrollWidth, window.innerWidth]"
        page, window = browser.execute_script(width)
        assert page <= window + 1, "the page scrolls sideways"
        # the examples' table fits: no cell cut off, none past the screen's edge
        cut = browser.execute_script(
            "return [...document.querySelectorAll('#wsas-examples th, #wsas-examples td')]"
            ".filter(c => c.scrollWidth > c.clientWidth + 1"
            " || c.getBoundingClientRect().right > window.innerWidth).length"
        )
        assert cut == 0, f"{cut} cells of the examples' table are cut off"
        shot = os.environ.get("WSAS_SCREENSHOT_PHONE")
        if shot:
            _screenshot(browser, shot.replace(".png", "_before.png"))
        _submit(browser, _wave(tmp_path, "short.wav", _stereo()), "The sound of violin")
        assert "Separated 1 output(s)" in _status(browser)
        time.sleep(0.5)  # the scroll follows the answer
        top = browser.execute_script(
            "return document.getElementById('wsas-status').getBoundingClientRect().top"
        )
        assert -2 <= top < 844, f"the results are out of view (top at {top})"
        _results_shown(browser, 1)
        picture = browser.find_element(By.ID, "wsas-spectrogram-0").rect
        assert picture["width"] <= 390
        page, window = browser.execute_script(width)
        assert page <= window + 1, "the results scroll sideways"
        if shot:
            _screenshot(browser, shot.replace(".png", "_after.png"))
    finally:
        browser.set_window_size(1400, 2200)
