"""Tests of the HTML report: its spans and what they embed, placeholders for
unreadable files, escaping, atomic writes, page size, and the page itself in
a real browser (headless Chromium, driven over the DevTools protocol).

Run as a script, this file makes the screenshot in the documentation::

    python tests/test_report.py docs/_static/report.png
"""

import base64
import contextlib
import fcntl
import html.parser
import io
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

import av
import numpy as np
import pytest

import skmv._files
import skmv.report
from skmv.datasets import (
    clicks,
    counter_frames,
    make_music_videos,
    moving_bars,
    read_counter,
    tone,
    write_media,
)
from skmv.exceptions import MediaError, MissingStreamError
from skmv.report import Match, MediaSpan, Report

FPS = 10
SECONDS = 8.0
SR = 48000
# Clicks in the music video's sound, to find where an embedded player starts.
CLICKS = (0.5, 2.7, 4.3, 6.9)
JPEG = b"\xff\xd8\xff"
WEBM = b"\x1a\x45\xdf\xa3"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A music video whose frames show their index and whose sound clicks
    at known times, a song, silent footage and a file that is no media."""
    folder = tmp_path_factory.mktemp("report media")
    n = int(SECONDS * FPS)
    files = {
        "mv": write_media(
            folder / "mv.mp4",
            video=counter_frames(n, size=(64, 48)),
            fps=FPS,
            audio=clicks(CLICKS, SECONDS, sr=SR),
            sr=SR,
        ),
        "song": write_media(
            folder / "song.wav", audio=tone(330.0, SECONDS, sr=22050), sr=22050
        ),  # fmt: skip
        "footage": write_media(
            folder / "footage.mp4", video=moving_bars(n, size=(64, 48)), fps=FPS
        ),
    }
    bad = folder / "bad.mp4"
    bad.write_text("not a video\n")
    files["bad"] = str(bad)
    files["folder"] = str(folder)
    return files


class _Page(html.parser.HTMLParser):
    """The elements of a report that the tests count, with their attributes
    and the classes of the elements they sit in."""

    def __init__(self, text):
        super().__init__()
        self.elements = []
        self._open = []
        self.text = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        within = [c for _, a in self._open for c in a.get("class", "").split()]
        self.elements.append((tag, attrs, within))
        if tag not in ("img", "meta", "br"):
            self._open.append((tag, attrs))

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag, css=None):
        return [
            attrs
            for t, attrs, _ in self.elements
            if t == tag and (css is None or css in attrs.get("class", "").split())
        ]


def decode_uri(uri):
    head, data = uri.split(",", 1)
    assert head.endswith(";base64"), head
    return head[len("data:") : -len(";base64")], base64.b64decode(data)


def decode_audio(data):
    """Samples (48 kHz, mono) of embedded Opus-in-WebM bytes."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
    return np.concatenate(frames)


def decode_jpeg(data):
    with av.open(io.BytesIO(data), format="mjpeg") as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


# ----------------------------------------------------------------------------
# Spans and matches
# ----------------------------------------------------------------------------


def test_media_span_and_match():
    span = MediaSpan(os.path.join("a", "b.mp4"), 1, 7.5, modalities="audio,video")
    assert span.modalities == ("video", "audio")  # one order
    assert (span.start, span.end, span.duration) == (1.0, 7.5, 6.5)
    assert MediaSpan("x.wav", 0, 1, modalities=["audio"]).modalities == ("audio",)
    with pytest.raises(ValueError, match="x.mp4: needs 0 <= start < end"):
        MediaSpan("x.mp4", 3.0, 3.0)
    with pytest.raises(ValueError, match="x.mp4: needs 0 <= start < end"):
        MediaSpan("x.mp4", -1.0, 3.0)
    with pytest.raises(ValueError, match="x.mp4: end must be a finite number"):
        MediaSpan("x.mp4", 0.0, float("nan"))
    with pytest.raises(ValueError, match="x.mp4: modalities must be"):
        MediaSpan("x.mp4", 0.0, 1.0, modalities=("video", "sound"))
    with pytest.raises(ValueError, match="x.mp4: modalities must be"):
        MediaSpan("x.mp4", 0.0, 1.0, modalities=())
    with pytest.raises(TypeError, match="path must be a str"):
        MediaSpan(3, 0.0, 1.0)

    match = Match(span, np.float32(0.5), correct=np.True_)
    assert match.distance == 0.5 and match.correct is True
    assert type(match.distance) is float
    with pytest.raises(TypeError, match="span must be a MediaSpan"):
        Match("b.mp4", 0.5)
    with pytest.raises(TypeError, match="b.mp4: distance must be a number"):
        Match(span, "near")
    with pytest.raises(TypeError, match="b.mp4: correct must be True, False or"):
        Match(span, 0.5, correct="yes")


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_frames": 0}, "n_frames must be an int >= 1"),
        ({"frame_width": 8}, "frame_width must be an int >= 16"),
        ({"audio_bitrate": 1000}, "audio_bitrate must be an int >= 6000"),
        ({"max_audio_seconds": 0}, "max_audio_seconds must be a number of seconds"),
        ({"max_audio_seconds": float("inf")}, "max_audio_seconds must be"),
    ],
)
def test_report_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        Report("t", **params)


# ----------------------------------------------------------------------------
# What a query embeds
# ----------------------------------------------------------------------------


def test_query_with_video_and_audio(media):
    """Key frames at the middles of the span's quarters and a player of
    exactly the span, for the query and for every match."""
    report = Report("Queries", n_frames=4)
    query = MediaSpan(media["mv"], 2.0, 6.0)
    matches = [
        Match(MediaSpan(media["mv"], 0.0, 4.0), 0.1, correct=True),
        Match(MediaSpan(media["mv"], 4.0, 8.0), 0.2, correct=False),
        Match(MediaSpan(media["mv"], 1.0, 3.0), 0.3),
    ]
    report.add_query(query, matches)
    page = _Page(report.to_html())
    assert len(page.find("section", "query")) == 1
    assert page.find("section", "query")[0]["data-matches"] == "3"
    items = page.find("li", "match")
    assert [item["data-rank"] for item in items] == ["1", "2", "3"]
    assert [item["class"] for item in items] == [
        "item match correct",
        "item match incorrect",
        "item match",
    ]
    text = "".join(page.text)
    assert text.count("✓") == 1 and text.count("✗") == 1
    assert "distance 0.1" in text and "2–6 s" in text and "1–3 s" in text

    spans = [query] + [m.span for m in matches]
    images = page.find("img")
    assert len(images) == 4 * len(spans)
    for span, chunk in zip(spans, np.split(np.arange(len(images)), len(spans))):
        frames = []
        for i in chunk:
            mime, data = decode_uri(images[i]["src"])
            assert mime == "image/jpeg" and data.startswith(JPEG)
            frame = decode_jpeg(data)
            assert frame.shape == (120, 160, 3)
            assert (images[i]["width"], images[i]["height"]) == ("160", "120")
            frames.append(frame)
        # The frames shown at the middle of each quarter of the span (the
        # frame shown at t is the last one that starts at or before t).
        middles = span.start + (np.arange(4) + 0.5) * span.duration / 4
        expected = list(np.floor(middles * FPS + 1e-9).astype(int))
        assert list(read_counter(np.stack(frames))) == expected

    audios = page.find("audio")
    assert len(audios) == len(spans)
    for span, audio in zip(spans, audios):
        assert audio["preload"] == "auto" and "controls" in audio
        mime, data = decode_uri(audio["src"])
        assert mime == "audio/webm" and data.startswith(WEBM)
        y = decode_audio(data)
        assert abs(len(y) / 48000 - span.duration) < 0.005
        assert float(audio["data-seconds"]) == pytest.approx(span.duration)
        # Exactly the span: its clicks, where they are in it.
        inside = [t - span.start for t in CLICKS if span.start < t < span.end]
        found = np.flatnonzero(np.abs(y) > 0.3) / 48000
        assert len(inside) > 0
        for t in inside:
            assert np.min(np.abs(found - t)) < 0.005, (span, t)
        assert np.all(np.min(np.abs(found[:, None] - inside), axis=1) < 0.01)


def test_audio_only_and_video_only_spans(media):
    """A span without video shows a strip of its music, one without audio no
    player; a long span plays its first max_audio_seconds."""
    report = Report("One modality", n_frames=3, max_audio_seconds=2.5)
    song = MediaSpan(media["song"], 1.0, 7.0, modalities=("audio",), label="a tone")
    footage = MediaSpan(media["footage"], 0.0, 6.0, modalities=("video",))
    report.add_query(song, [Match(footage, 1.0)])
    page = _Page(report.to_html())
    strip, *frames = page.find("img")
    assert strip["class"] == "strip"
    assert (strip["width"], strip["height"]) == ("480", "88")
    assert "spectrogram" in strip["alt"]
    mime, data = decode_uri(strip["src"])
    assert mime == "image/jpeg"
    image = decode_jpeg(data)
    assert image.shape == (88, 480, 3)
    # A steady tone: one bright spectrogram row, the same in every column.
    rows = image[:64].astype(int).sum(axis=2)
    assert np.ptp(rows.argmax(axis=0)) <= 1
    assert len(frames) == 3
    (audio,) = page.find("audio")  # the song's; the footage has none
    y = decode_audio(decode_uri(audio["src"])[1])
    assert abs(len(y) / 48000 - 2.5) < 0.005
    text = "".join(page.text)
    assert "plays the first 2.5 s" in text
    assert "a tone" in text and len(page.find("span", "label")) == 1
    assert "1–7 s · audio" in text and "0–6 s · video" in text


def test_unreadable_files_are_placeholders(media):
    """A file that cannot be read is a placeholder that names it and says
    why; the report goes on, and lists each problem once."""
    report = Report("Problems")
    missing = os.path.join(media["folder"], "gone.mp4")
    query = MediaSpan(media["mv"], 0.0, 2.0, modalities="audio")
    matches = [
        Match(MediaSpan(media["bad"], 0.0, 2.0), 0.1),
        Match(MediaSpan(missing, 0.0, 2.0, modalities="video"), 0.2),
        Match(MediaSpan(media["song"], 0.0, 2.0), 0.3),  # asks for its video
        Match(MediaSpan(media["mv"], 6.0, 12.0), 0.4),  # past the end
        Match(MediaSpan(media["mv"], 2.0, 4.0), 0.5),
        Match(MediaSpan(media["bad"], 0.0, 2.0), 0.6),  # again
    ]
    report.add_query(query, matches)
    page = _Page(report.to_html())
    boxes = page.find("div", "missing")
    texts = re.findall(r'<div class="missing"[^>]*>(.*?)</div>', report.to_html())
    assert len(boxes) == len(texts) == 5
    assert "bad.mp4: cannot be shown: not a media file" in texts[0]
    assert "gone.mp4: cannot be shown: no such file or directory" in texts[1]
    assert "song.wav: its video cannot be shown: no video stream" in texts[2]
    assert re.search(
        r"mv.mp4: cannot be shown: the span 6.00-12.00 s reaches past the end "
        r"of the video \(8.\d\d s\); the span .* of the audio",
        texts[3],
    ), texts[3]
    assert texts[4] == texts[0]
    assert boxes[0]["title"] == media["bad"]
    assert boxes[0]["style"] == "width: 640px"
    # The song's audio is still there, and so is everything readable.
    assert len(page.find("audio")) == 1 + 1 + 1  # query, song, mv 2-4 s
    assert len(page.find("img")) == 1 + 4  # the query's strip, mv 2-4 s
    assert len(page.find("li", "match")) == 6
    assert [(os.path.basename(e.path), type(e)) for e in report.media_errors] == [
        ("bad.mp4", MediaError),
        ("gone.mp4", MediaError),
        ("song.wav", MissingStreamError),
        ("mv.mp4", MediaError),
        ("mv.mp4", MediaError),
    ]


def test_a_decoder_crash_is_a_placeholder(media, monkeypatch):
    """A decoder that kills its process costs its span, not the report."""

    def crash(path, *args, **kwargs):
        if path.endswith("footage.mp4"):
            os.kill(os.getpid(), 9)
        return real(path, *args, **kwargs)

    real = skmv.report._render_media
    monkeypatch.setattr(skmv.report, "_render_media", crash)
    report = Report("Crash")
    report.add_query(
        MediaSpan(media["mv"], 0.0, 2.0, modalities="audio"),
        [Match(MediaSpan(media["footage"], 0.0, 2.0, modalities="video"), 0.1)],
    )
    text = report.to_html()
    assert "footage.mp4: cannot be shown: decoder crashed (signal 9, SIGKILL)" in text
    assert len(_Page(text).find("audio")) == 1


def test_each_span_is_decoded_once(media, monkeypatch):
    calls = []
    real = skmv.report._render_isolated

    def counting(path, start, end, parts, **options):
        calls.append((os.path.basename(path), start, end, parts))
        return real(path, start, end, parts, **options)

    monkeypatch.setattr(skmv.report, "_render_isolated", counting)
    report = Report("Once", n_frames=2)
    a = MediaSpan(media["mv"], 0.0, 2.0)
    b = MediaSpan(media["mv"], 2.0, 4.0)
    report.add_query(a, [Match(a, 0.0), Match(b, 1.0)])
    report.add_query(b, [Match(b, 0.0), Match(a, 1.0)])
    # The same times by another name of the file, and a part not made yet.
    relative = os.path.relpath(media["mv"])
    report.add_query(MediaSpan(relative, 0.0, 2.0, modalities="audio"), [])
    assert calls == [
        ("mv.mp4", 0.0, 2.0, ("frames", "audio")),
        ("mv.mp4", 2.0, 4.0, ("frames", "audio")),
        ("mv.mp4", 0.0, 2.0, ("strip",)),
    ]
    page = _Page(report.to_html())
    assert len(page.find("img")) == 2 * 6 + 1 and len(page.find("audio")) == 7


# ----------------------------------------------------------------------------
# Text, tables, images
# ----------------------------------------------------------------------------


def test_text_and_names_are_escaped(media, tmp_path):
    evil = "<script>alert(\"x\")</script> & 'q'"
    folder = tmp_path / "<b>folder"
    folder.mkdir()
    clip = shutil.copy(media["mv"], folder / 'a"<i>.mp4')
    report = Report(evil, subtitle=evil)
    report.add_text(evil, f"{evil}\n\nsecond paragraph")
    report.add_table(evil, [evil, "n"], [[evil, 1]])
    report.add_image(evil, PNG_1x1)
    span = MediaSpan(clip, 0.0, 2.0, modalities="video", label=evil)
    report.add_query(span, [Match(span, 0.0)], title=evil)
    text = report.to_html()
    assert "<script" not in text and "<i>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in (
        text
    )
    page = _Page(text)
    # In the title, the headings, the subtitle, the paragraph, the table,
    # and the label of the query and of its match.
    assert "".join(page.text).count('<script>alert("x")</script>') == 12
    assert page.find("span", "file")[0]["title"] == str(clip)
    assert len(page.find("p")) == 3  # the subtitle and two paragraphs


def png_bytes(width, height):
    """A grey PNG image of ``width`` x ``height`` pixels."""
    frame = av.VideoFrame.from_ndarray(
        np.full((height, width, 3), 128, np.uint8), format="rgb24"
    )
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "rgb24"
    return b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])


PNG_1x1 = png_bytes(1, 1)


def test_tables_and_images():
    plt = pytest.importorskip("matplotlib.pyplot")
    report = Report("Results")
    report.add_table(
        "Precision at N",
        ["method", "N", "P@N", "segments"],
        [
            ["shared", 1, 0.123456, 123456.7],
            ["CCA", np.int64(10), np.float32(1.0), None],
        ],
    )
    with pytest.raises(ValueError, match="rows\\[0\\] has 1 cell"):
        report.add_table("t", ["a", "b"], [[1]])
    figure, ax = plt.subplots(figsize=(3, 2), dpi=50)
    ax.plot([0, 1], [0, 1])
    report.add_image("A plot", figure)
    plt.close(figure)
    report.add_image(None, PNG_1x1)
    with pytest.raises(ValueError, match="neither PNG nor JPEG"):
        report.add_image("t", b"GIF89a....")
    with pytest.raises(TypeError, match="matplotlib Figure or the bytes"):
        report.add_image("t", "plot.png")
    page = _Page(report.to_html())
    cells = [attrs.get("class") for attrs in page.find("td")]
    assert cells == [None, "number", "number", "number", None, "number", "number", None]
    text = "".join(page.text)
    for shown in ("shared", "0.1235", "123457", "CCA", "10", "1"):
        assert shown in text
    images = page.find("img")
    assert len(images) == 2 and images[0]["alt"] == "A plot"
    mime, data = decode_uri(images[0]["src"])
    assert mime == "image/png" and data.startswith(PNG)
    assert int(images[0]["width"]) > 50  # the figure, as saved
    assert decode_uri(images[1]["src"])[1] == PNG_1x1
    assert (images[1]["width"], images[1]["height"]) == ("1", "1")


# ----------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------


def test_write_is_atomic(tmp_path, monkeypatch):
    report = Report("Written")
    target = tmp_path / "report.html"
    assert report.write(target) == str(target)
    first = target.read_text(encoding="utf-8")
    assert first.startswith("<!DOCTYPE html>") and "Written" in first
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())

    # Interrupted while publishing: the old page stays, nothing is left over.
    def interrupted(partial, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(skmv._files, "publish", interrupted)
    report.add_text("More", "text")
    with pytest.raises(KeyboardInterrupt):
        report.write(target)
    assert target.read_text(encoding="utf-8") == first
    assert os.listdir(tmp_path) == ["report.html"]
    monkeypatch.undo()
    report.write(str(target))
    assert "More" in target.read_text(encoding="utf-8")

    with pytest.raises(FileNotFoundError, match="no such directory"):
        report.write(tmp_path / "nowhere" / "report.html")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        report.write(tmp_path)


def _umask():
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def test_page_size_of_10_queries_with_10_matches(tmp_path):
    """The page stays small: 10 queries of 10 matches, 6-second spans of
    generated music videos with key frames and players, under 5 MB."""
    data = make_music_videos(
        2, clip_seconds=30, directory=tmp_path, size=(160, 120), sr=22050,
        random_state=0,
    )  # fmt: skip
    spans = [MediaSpan(p, t, t + 6.0) for p in data.paths for t in range(0, 30, 6)]
    report = Report("10 x 10")
    for q in range(10):
        query = MediaSpan(spans[q].path, spans[q].start, spans[q].end, "audio")
        report.add_query(query, [Match(s, 0.1 * i) for i, s in enumerate(spans)])
    path = report.write(tmp_path / "report.html")
    size = os.path.getsize(path)
    page = _Page(open(path, encoding="utf-8").read())
    assert len(page.find("audio")) == 110 and len(page.find("img")) == 410
    print(f"\n10 x 10 report: {size / 1e6:.2f} MB")
    assert size < 5e6, size


# ----------------------------------------------------------------------------
# In a browser
# ----------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser():
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (its
    file descriptors 3 and 4): no port, no network, no Python package.

    Every wait is bounded by ``timeout`` seconds from the start.
    """

    def __init__(self, executable, profile, timeout=60.0):
        self.deadline = time.monotonic() + timeout
        to_browser, self._commands = os.pipe()
        self._answers, from_browser = os.pipe()
        # The child's ends, moved to 10 and above so that putting them on 3
        # and 4 in the child cannot overwrite one with the other.
        child = [
            fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
            for fd in (to_browser, from_browser)
        ]
        for fd in (to_browser, from_browser):
            os.close(fd)

        def wire():
            os.dup2(child[0], 3)
            os.dup2(child[1], 4)

        self.process = subprocess.Popen(
            [
                executable, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--mute-audio",
                "--disable-extensions", "--hide-scrollbars",
                f"--user-data-dir={profile}", "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=wire, close_fds=False,
        )  # fmt: skip
        for fd in child:
            os.close(fd)
        self._buffer = b""
        self._id = 0
        self.events = []

    def _receive(self):
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise EOFError("the browser closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, session=None, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._receive()
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, method):
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self._receive())

    def open(self, url, width, height):
        """A new tab showing ``url``, loaded; returns its session."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)
        session = session["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session)
        self.call(
            "Emulation.setDeviceMetricsOverride", session, width=width,
            height=height, deviceScaleFactor=1, mobile=False,
        )  # fmt: skip
        self.call("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired")
        return session

    def evaluate(self, session, expression):
        result = self.call(
            "Runtime.evaluate", session, expression=expression,
            awaitPromise=True, returnByValue=True,
        )  # fmt: skip
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"]["value"]

    def screenshot(self, session):
        data = self.call("Page.captureScreenshot", session, format="png")["data"]
        return base64.b64decode(data)

    def errors(self):
        """Console errors, uncaught exceptions and error log entries."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"].get("text"))
            elif method == "Runtime.consoleAPICalled" and params["type"] in (
                "error",
                "assert",
            ):
                found.append(str(params.get("args")))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"].get("text"))
        return found

    def close(self):
        with contextlib.suppress(Exception):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._commands, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)


# Waits for every image and every player (bounded: 10 s), then says what
# each holds.
CHECK = """
(async () => {
  const bounded = (promise) => Promise.race(
    [promise, new Promise((done) => setTimeout(done, 10000))]);
  const images = [...document.images];
  await bounded(Promise.all(images.map((img) => img.decode().catch(() => null))));
  const audios = [...document.querySelectorAll("audio")];
  await bounded(Promise.all(audios.map((audio) =>
    audio.readyState >= 1 || audio.error ? null :
    new Promise((done) => {
      audio.addEventListener("loadedmetadata", done);
      audio.addEventListener("error", done);
    }))));
  return JSON.stringify({
    images: images.map((img) => img.naturalWidth),
    audios: audios.map((audio) => ({
      ready: audio.readyState, duration: audio.duration,
      seconds: parseFloat(audio.dataset.seconds),
      error: audio.error && audio.error.code,
    })),
  });
})()
"""


def look(path, screenshot=None, *, width=1200, height=900, timeout=60.0):
    """Open ``path`` in headless Chromium: ``(what CHECK says, console
    errors)``, and a screenshot of the top of the page saved to
    ``screenshot``."""
    with tempfile.TemporaryDirectory() as profile:
        browser = Chromium(find_browser(), profile, timeout=timeout)
        try:
            session = browser.open(f"file://{os.path.abspath(path)}", width, height)
            checked = json.loads(browser.evaluate(session, CHECK))
            if screenshot is not None:
                with open(screenshot, "wb") as f:
                    f.write(browser.screenshot(session))
            return checked, browser.errors()
        finally:
            browser.close()


@pytest.mark.skipif(
    find_browser() is None,
    reason="no Chromium or Chrome found (apt-get install chromium; .ci/run "
    "installs it)",
)
def test_the_page_in_a_browser(media, tmp_path):
    """Headless Chromium loads the page without an error, decodes every
    image and finds every player's audio as long as its span."""
    plt = pytest.importorskip("matplotlib.pyplot")
    report = Report("In a browser", subtitle="every kind of span", n_frames=3)
    figure, ax = plt.subplots(figsize=(4, 2), dpi=60)
    ax.plot([1, 2, 3], [0.2, 0.5, 0.9])
    report.add_image("Precision at N", figure)
    plt.close(figure)
    report.add_table("Numbers", ["N", "P@N"], [[1, 0.25], [10, 0.75]])
    report.add_query(
        MediaSpan(media["song"], 0.5, 6.5, modalities="audio"),
        [
            Match(MediaSpan(media["mv"], 2.0, 6.0), 0.1, correct=True),
            Match(MediaSpan(media["mv"], 0.3, 2.2), 0.2, correct=False),
            Match(MediaSpan(media["footage"], 1.0, 7.0, modalities="video"), 0.3),
            Match(MediaSpan(media["song"], 0.0, 3.0, modalities="audio"), 0.4),
            Match(MediaSpan(media["bad"], 0.0, 3.0), 0.5),
        ],
    )
    path = report.write(tmp_path / "report.html")
    started = time.monotonic()
    checked, errors = look(path, tmp_path / "report.png")
    assert time.monotonic() - started < 30
    assert errors == []
    # The plot; 3 strips; 3 frames of 2 spans and 3 of the footage.
    assert len(checked["images"]) == 1 + 2 + 3 * 3
    assert all(width > 0 for width in checked["images"]), checked
    assert len(checked["audios"]) == 4
    for audio in checked["audios"]:
        assert audio["error"] is None and audio["ready"] >= 1, audio
        assert abs(audio["duration"] - audio["seconds"]) < 0.1, audio
    assert sorted(round(a["seconds"], 3) for a in checked["audios"]) == [
        1.9, 3.0, 4.0, 6.0,
    ]  # fmt: skip
    with open(tmp_path / "report.png", "rb") as f:
        assert f.read(8) == PNG


# ----------------------------------------------------------------------------
# The documentation's screenshot
# ----------------------------------------------------------------------------


def make_screenshot(output, folder):
    """Run ``skmv featurize``, ``fit`` and ``retrieve --report`` in
    ``folder`` on music videos generated there, and save the top of the
    report, as a browser 1100 pixels wide shows it, to ``output`` (PNG)."""
    from skmv import cli

    output = os.path.abspath(output)
    previous = os.getcwd()
    os.chdir(folder)  # short, relative paths on the page
    try:
        make_music_videos(
            12, clip_seconds=30, directory="clips", size=(160, 120), sr=22050,
            random_state=0,
        )  # fmt: skip
        steps = [
            ["featurize", "clips", "-o", "features.npz", "-q"],
            ["fit", "features.npz", "-o", "model.skops", "--hidden-layers", "64",
             "--n-components", "64", "--n-iter", "40", "--batch-size", "10"],
            ["retrieve", "model.skops", os.path.join("clips", "clip_0003.mp4"),
             "--database", "features.npz", "--start", "12", "-k", "4",
             "--report", "report.html", "-q"],
        ]  # fmt: skip
        for argv in steps:
            print("skmv", " ".join(argv), flush=True)
            code = cli.main(argv)
            if code != 0:
                raise SystemExit(f"skmv {argv[0]} failed with exit code {code}")
        checked, errors = look("report.html", output, width=1100, height=800)
    finally:
        os.chdir(previous)
    if errors:
        raise SystemExit(f"the browser reported errors: {errors}")
    print(f"wrote {output}: {os.path.getsize(output)} bytes; {checked}")


if __name__ == "__main__":
    if len(sys.argv) != 2 or find_browser() is None:
        raise SystemExit(
            "usage: python tests/test_report.py OUTPUT.png (needs chromium)"
        )
    with tempfile.TemporaryDirectory() as work:
        make_screenshot(sys.argv[1], work)
