"""Screenshots of the pages a person meets first, as `make run` serves them (the bundled demo
corpus, development mode, no mail server), into docs/screenshots/:

    PYTHONPATH=src .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Pages: the daily page, a paper page, search, For-you (signed in, with a small library) and the
digest settings, plus the API reference; each at desktop (1280 wide) and phone (390 wide) sizes,
in light and dark (prefers-color-scheme), named PAGE-SIZE-SCHEME.png. Chromium is Debian's
(/usr/bin/chromium), driven by Playwright as in the end-to-end tests. The first screen and a
half is shot (a full daily page is 10,000 pixels high).
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
SIZES = {"desktop": (1280, 1200), "phone": (390, 1266)}
PAPER = "2605.08083"  # a demo paper with an AI summary, a category, code and a formula
LIBRARY_QUERY = "video diffusion"  # the reader's library: the top papers of this search
PAGES = {
    "daily": "/",
    "paper": f"/papers/{PAPER}",
    "search": "/search?q=diffusion+transformer",
    "foryou": "/for-you",
    "digest-settings": "/settings/digest",
    "docs": "/docs",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data: Path):
    """The app on a loopback port over the demo corpus; (base URL, engine, server)."""
    import uvicorn

    from paperroute.app import create_app
    from paperroute.cli import load_demo_if_empty
    from paperroute.config import load_settings
    from paperroute.search.service import SearchService
    from paperroute.store.engine import make_engine, migrate

    port = _free_port()
    settings = load_settings(
        data_dir=data, load_demo=True, smtp_host="", base_url=f"http://127.0.0.1:{port}"
    )
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    load_demo_if_empty(settings, engine)
    search = SearchService(settings, engine)
    search.open()
    search.search("warm up")
    app = create_app(settings, engine=engine, search=search)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", engine, search, server


def reader(engine, search) -> str:
    """A reader with a library (a collection of one theme's papers, some upvotes); their email."""
    from paperroute.store import collections as coll
    from paperroute.store.users import add_user
    from paperroute.store.votes import set_vote

    user = add_user(engine, "ada@example.org")
    shelf = coll.create_collection(engine, user.id, "Video generation", is_public=True)
    hits = search.search(LIBRARY_QUERY, limit=8).hits
    for hit in hits[:6]:
        coll.add_paper(engine, user.id, shelf.id, hit.id)
    for hit in hits[6:8]:
        set_vote(engine, user.id, hit.id, True)
    return user.email


def create_login_token(engine, email: str) -> str:
    """A one-time sign-in token (each browser context signs in with its own)."""
    from paperroute.store import auth

    return auth.create_login_token(engine, email)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paperroute-shots-") as data:
        base, engine, search, server = serve(Path(data))
        email = reader(engine, search)
        written = shoot_all(base, lambda: create_login_token(engine, email), args.out)
        server.should_exit = True
        engine.dispose()
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def shoot_all(base: str, token_for, out: Path) -> list[Path]:
    """Every page at every size in both schemes, each context signed in with its own token."""
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for scheme in ("light", "dark"):
            for size, (width, height) in SIZES.items():
                context = browser.new_context(
                    viewport={"width": width, "height": height},
                    color_scheme=scheme,
                    is_mobile=size == "phone",
                    has_touch=size == "phone",
                )
                page = context.new_page()
                page.goto(f"{base}/signin/verify?token={token_for()}")
                page.click("#finish-signin")
                page.wait_for_load_state()
                for name, path in PAGES.items():
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    target = out / f"{name}-{size}-{scheme}.png"
                    page.screenshot(path=str(target))
                    written.append(target)
                context.close()
        browser.close()
    return written


if __name__ == "__main__":
    main()
