"""Every feature reachable and every action safe (issue 11): a Save menu on each card, filled
with the reader's own collections on shared and unshared pages alike; a second step before a
collection is deleted; the demo banner and its dismissal; the Markdown view of a paper."""

from __future__ import annotations

from paperroute.store.papers import mark_demo_loaded
from webtools import client_for, doc, make_app, page_csrf, seed, sign_in, texts
from webtools import csrf_from as csrf_of

PAPER = "2502.00002"


def _card_choices(response, paper_id: str) -> list[str]:
    card = doc(response).cssselect(f"article[data-paper-id='{paper_id}']")[0]
    return [" ".join(b.text_content().split()) for b in card.cssselect(".save-menu button")]


def test_every_card_has_a_save_menu_with_the_readers_own_collections(settings, engine):
    seed(engine)
    app = make_app(settings, engine, page_cache_ttl=60)  # shared pages on, as `serve` runs
    ada, bob = client_for(app), client_for(app)
    sign_in(ada, engine, "ada@example.org")
    sign_in(bob, engine, "bob@example.org")
    ada.post("/collections", data={"name": "To read", "paper_id": PAPER,
                                   "csrf_token": page_csrf(ada)})  # fmt: skip
    ada_day, bob_day = ada.get("/date/2025-02-03"), bob.get("/date/2025-02-03")
    assert "✓ To read" in _card_choices(ada_day, PAPER)
    assert not [c for c in _card_choices(bob_day, PAPER) if "To read" in c]  # ada's, not bob's
    assert "Create and save" in _card_choices(bob_day, PAPER)
    assert "\x00" not in ada_day.text and "\x00" not in bob_day.text  # no marker left unfilled
    # an unshared page (a collection) fills the same menu for its reader
    collection = ada.get("/collections/1")
    assert "✓ To read" in _card_choices(collection, PAPER)
    anonymous = client_for(app).get("/date/2025-02-03")
    assert texts(anonymous, f"article[data-paper-id='{PAPER}'] a.save-link") == ["Save"]


def test_deleting_a_collection_takes_a_second_step(settings, engine):
    seed(engine)
    client = client_for(make_app(settings, engine))
    sign_in(client, engine, "del@example.org")
    client.post("/collections", data={"name": "Old", "csrf_token": page_csrf(client)})
    page = client.get("/collections/1")
    (step,) = doc(page).cssselect("details.confirm.delete-collection")
    assert step.cssselect("summary")[0].text_content().startswith("Delete collection")
    assert step.cssselect("form[action='/collections/1/delete'] button.danger")
    assert "cannot be undone" in step.text_content()
    assert not doc(page).cssselect("form[action='/collections/1/delete']:not(details form)")


def test_demo_banner_names_the_days_and_stays_dismissed(settings, engine):
    seed(engine)
    mark_demo_loaded(engine)
    app = make_app(settings, engine, page_cache_ttl=60)
    client = client_for(app)
    (banner,) = texts(client.get("/"), ".demo-banner span")
    assert banner == "This is demo data: 3 days of real Hugging Face daily papers, " \
        "03 Feb 2025 to 05 Feb 2025."  # fmt: skip
    dismissed = client.post("/demo/dismiss", data={"next": "/trending"})
    assert dismissed.status_code == 303 and dismissed.headers["location"] == "/trending"
    assert not texts(client.get("/"), ".demo-banner")
    assert texts(client_for(app).get("/"), ".demo-banner")  # still shown to everyone else
    # signed in, the shared rendering does not carry one reader's dismissal to another
    reader = client_for(app)
    sign_in(reader, engine, "banner@example.org")
    assert texts(reader.get("/"), ".demo-banner")
    reader.post("/demo/dismiss", data={"next": "/"})
    assert not texts(reader.get("/"), ".demo-banner")


def test_no_demo_banner_on_a_store_that_is_not_the_demo(settings, engine):
    seed(engine)
    assert not texts(client_for(make_app(settings, engine)).get("/"), ".demo-banner")


def test_paper_markdown_view_and_counts_in_words(settings, engine):
    seed(engine)
    client = client_for(make_app(settings, engine))
    md = client.get(f"/papers/{PAPER}.md")
    assert md.status_code == 200
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert md.text.startswith(f"# Paper {PAPER} on learning\n")
    assert f"- arXiv: https://arxiv.org/abs/{PAPER}" in md.text and "## Abstract" in md.text
    page = client.get(f"/papers/{PAPER}")
    assert doc(page).cssselect(f"a.markdown[href='/papers/{PAPER}.md']")
    assert client.get("/papers/2502.99999.md").status_code == 404
    sign_in(client, engine, "one@example.org")
    client.post("/collections", data={"name": "One", "paper_id": PAPER,
                                      "csrf_token": page_csrf(client)})  # fmt: skip
    assert "1 save" in texts(client.get(f"/papers/{PAPER}"), ".votes-line")[0]
    assert "1 saves" not in client.get(f"/papers/{PAPER}").text
    assert texts(client.get("/collections"), ".my-collections .muted") == ["1 paper · private"]


def test_digest_settings_offer_an_unsubscribe_button_behind_a_second_step(settings, engine):
    from paperroute.store import subscriptions as subs

    seed(engine)
    client = client_for(make_app(settings, engine))
    sign_in(client, engine, "stop@example.org")
    page = client.get("/settings/digest")
    client.post("/subscribe", data={"csrf_token": csrf_of(page), "email": "stop@example.org"})
    assert subs.get_subscription_by_email(engine, "stop@example.org").status == "active"
    page = client.get("/settings/digest")
    (form,) = doc(page).cssselect("details.confirm.unsubscribe form")
    assert client.post(form.get("action")).status_code == 200
    assert subs.get_subscription_by_email(engine, "stop@example.org").status == "unsubscribed"
    assert not doc(client.get("/settings/digest")).cssselect("details.unsubscribe")
