"""Library and account imports run in the background: a real uvicorn server keeps answering
pages while a 50 MB library is imported, the import page follows it, and a vanished row or file
is handled quietly."""

from __future__ import annotations

import socket
import threading
import time

import httpx

from paperroute.jobs.imports import ImportRunner, run_import
from paperroute.store import collections as coll
from paperroute.store import imports
from test_library_web import LANGUAGE, VISION, _seed
from webtools import LiveServer, client_for, csrf_from, make_app, sign_in, texts

ABSTRACT = "We study learning in large models and report results on many benchmarks. " * 130


def big_library(limit: int = 49 * 1024 * 1024) -> bytes:
    """A Zotero-like export with abstracts, just under the 50 MB limit, citing known papers."""
    ids = VISION + LANGUAGE
    parts, size, n = [], 0, 0
    while size < limit:
        entry = (
            f"@article{{k{n}, title = {{Paper {n}}}, author = {{Ada Lovelace and Alan Turing}},\n"
            f"  eprint = {{{ids[n % len(ids)]}}}, archiveprefix = {{arXiv}},\n"
            f"  abstract = {{{ABSTRACT}}}}}\n\n"
        ).encode()
        parts.append(entry)
        size += len(entry)
        n += 1
    return b"".join(parts)


def test_pages_answer_within_a_second_while_a_50_mb_library_imports(settings, engine):
    _seed(engine, settings)
    settings.arxiv_api_url = "http://127.0.0.1:9/api/query"  # never reach out: all ids are known
    app = make_app(settings, engine)
    browser = client_for(app)
    user = sign_in(browser, engine, "reader@example.org")
    data = big_library()
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=120) as http:
        http.cookies.set("paperroute_session", browser.cookies["paperroute_session"])
        csrf = csrf_from(http.get("/for-you", headers={"accept": "text/html"}))
        answer: dict = {}

        def upload() -> None:
            answer["response"] = http.post(
                "/for-you/import",
                data={"csrf_token": csrf, "collection": "Zotero"},
                files={"library": ("zotero.bib", data, "application/x-bibtex")},
            )

        uploader = threading.Thread(target=upload)
        uploader.start()
        latencies = []
        deadline = time.monotonic() + 300
        with httpx.Client(base_url=live.url, timeout=120) as reader:
            while not _imported(engine, user.id) and time.monotonic() < deadline:
                started = time.monotonic()
                assert reader.get("/", headers={"accept": "text/html"}).status_code == 200
                latencies.append(time.monotonic() - started)
                time.sleep(0.1)
        uploader.join(120)
    assert answer["response"].status_code == 303
    assert _imported(engine, user.id), "the import finished"
    assert len(latencies) >= 5, "pages were requested while the import ran"
    assert max(latencies) < 1.0, f"slowest page {max(latencies):.2f}s of {len(latencies)}"
    page = browser.get(answer["response"].headers["location"])
    assert "10 matched (10 newly saved" in texts(page, ".import-summary")[0]


def _imported(engine, user_id: int) -> bool:
    return [(c.name, c.size) for c in coll.list_collections(engine, user_id)] == [("Zotero", 10)]


def test_the_import_page_shows_progress_then_the_per_line_report(settings, engine):
    _seed(engine, settings)
    app = make_app(settings, engine)
    client = client_for(app)
    user = sign_in(client, engine, "reader@example.org")
    # Queued but not yet run: the page says so and refreshes itself.
    path = "uploads/by-hand.upload"
    (settings.data_dir / "uploads").mkdir(parents=True)
    (settings.data_dir / path).write_text(
        f"@misc{{a, eprint = {{{VISION[0]}}}, archiveprefix = {{arXiv}}}}\n"
        "@misc{b, title = {Nobody wrote this}}\n"
    )
    import_id = imports.create_import(engine, user.id, "library", "mine.bib", path, "Mine")
    waiting = client.get(f"/for-you/imports/{import_id}")
    assert texts(waiting, ".import-status")[0].startswith("Waiting to start")
    assert waiting.headers["link"].endswith('rel="alternate"; type="application/json"')
    assert 'http-equiv="refresh"' in waiting.text
    run_import(settings, engine, import_id)
    done = client.get(f"/for-you/imports/{import_id}")
    assert 'http-equiv="refresh"' not in done.text
    assert "2 entries: 1 matched" in texts(done, ".import-summary")[0]
    assert texts(done, ".import-unmatched li") == ["line 2 (b): Nobody wrote this"]
    twin = client.get(f"/for-you/imports/{import_id}?format=json").json()
    assert twin["status"] == "done" and twin["report"]["matched"] == [VISION[0]]
    assert not (settings.data_dir / path).exists(), "the stored upload is removed when done"
    assert client.get("/for-you/imports/99999999999999999999").status_code == 404


def test_an_import_whose_row_or_file_is_gone_ends_quietly(settings, engine):
    _seed(engine, settings)
    user = sign_in(client_for(make_app(settings, engine)), engine, "reader@example.org")
    run_import(settings, engine, 12345)  # no such row: nothing happens, nothing raised
    import_id = imports.create_import(engine, user.id, "library", "x.bib", "uploads/gone", None)
    run_import(settings, engine, import_id)
    job = imports.get_import(engine, import_id)
    assert job.status == "failed" and "upload it again" in job.error
    run_import(settings, engine, import_id)  # already finished: not run twice
    assert imports.get_import(engine, import_id).finished_at == job.finished_at


def test_an_import_left_queued_by_a_stopped_server_runs_at_the_next_start(settings, engine):
    _seed(engine, settings)
    app = make_app(settings, engine)
    user = sign_in(client_for(app), engine, "reader@example.org")
    (settings.data_dir / "uploads").mkdir(parents=True)
    (settings.data_dir / "uploads" / "left.upload").write_text(
        f"@misc{{a, eprint = {{{VISION[1]}}}, archiveprefix = {{arXiv}}}}\n"
    )
    import_id = imports.create_import(
        engine, user.id, "library", "left.bib", "uploads/left.upload", "Left"
    )
    with client_for(make_app(settings, engine)):  # the app's start-up resumes the queue
        deadline = time.monotonic() + 30
        while imports.get_import(engine, import_id).status != "done":
            assert time.monotonic() < deadline, "the queued import did not run"
            time.sleep(0.05)
    assert coll.collection_paper_ids(
        engine, imports.get_import(engine, import_id).report["collection_id"]
    ) == [VISION[1]]


def test_a_shutdown_puts_the_running_import_back_in_the_queue(settings, engine):
    _seed(engine, settings)
    with socket.socket() as silent:  # an "arXiv" that accepts and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        live = settings.model_copy(
            update={
                "arxiv_api_url": f"http://127.0.0.1:{silent.getsockname()[1]}/api/query",
                "http_timeout": 3.0,
                "http_retries": 0,
            }
        )
        user = sign_in(client_for(make_app(live, engine)), engine, "reader@example.org")
        (live.data_dir / "uploads").mkdir(parents=True)
        (live.data_dir / "uploads" / "slow.upload").write_text(
            "@misc{a, eprint = {2409.99999}, archiveprefix = {arXiv}}\n"
        )
        import_id = imports.create_import(
            engine, user.id, "library", "slow.bib", "uploads/slow.upload", None
        )
        runner = ImportRunner(live, engine)
        runner.submit(import_id)
        deadline = time.monotonic() + 30
        while (imports.get_import(engine, import_id).stage or "").find("fetching") < 0:
            assert time.monotonic() < deadline, "the import did not reach the fetch"
            time.sleep(0.02)
        runner.close()
        job = imports.get_import(engine, import_id)
        assert job.status == "queued" and "restarted" in job.stage
        assert (live.data_dir / "uploads" / "slow.upload").exists(), "kept for the next start"
