"""Discussion on paper pages: threads, replies, edits, deletes, upvotes, limits, feeds, the
recent-discussion page, notifications (in-app and by real SMTP mail), moderation, the JSON API
and the comment counts in the Hugging Face-compatible API."""

from __future__ import annotations

import time

import feedparser
import lxml.html
import pytest

from paperroute.community.discussion import CommentLimits
from paperroute.community.notifications import send_notification_mail
from paperroute.store import auth, claims
from paperroute.store import collections as coll_store
from paperroute.store import notifications as notify_store
from paperroute.store.papers import get_paper
from paperroute.store.users import add_user, update_profile
from webtools import MATH_ID, client_for, doc, make_app, page_csrf, seed, sign_in, texts

PAPER = "2502.00002"


def doc_of(html: str):
    return lxml.html.fromstring(html)


@pytest.fixture
def mail_settings(settings, smtp_server):
    return settings.model_copy(
        update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
                "mail_rate_per_second": 0}
    )  # fmt: skip


@pytest.fixture
def app(mail_settings, engine):
    seed(engine)
    return make_app(mail_settings, engine)


def member(app, engine, email: str, name: str | None = None, admin: bool = False):
    """A signed-in client of a member (named, so they can be mentioned)."""
    client = client_for(app)
    user = sign_in(client, engine, email, admin=admin)
    if name:
        update_profile(engine, user.id, name)
    client.csrf = page_csrf(client)
    client.user = user
    return client


def mails_to(app, engine, smtp, address: str, expected: int) -> list:
    """The mails `address` got once `expected` arrived (the app's background run sends them
    seconds after a comment; a run here sends anything it left), then one more run: no more."""
    deadline = time.monotonic() + 20
    while len(smtp.handler.to(address)) < expected and time.monotonic() < deadline:
        send_notification_mail(app.state.settings, engine)
        time.sleep(0.05)
    send_notification_mail(app.state.settings, engine)
    return smtp.handler.to(address)


def post(client, body: str, paper: str = PAPER, parent: int | None = None):
    data = {"csrf_token": client.csrf, "body": body}
    if parent:
        data["parent_id"] = str(parent)
    return client.post(f"/papers/{paper}/comments", data=data)


def comment_id(response) -> int:
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("#comment-", 1)[1])


def test_a_comment_with_markdown_and_math_shows_on_the_paper_page_and_its_card(app, engine):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    cid = comment_id(post(ada, "This is **bold** and $x^2$, see <https://example.org>"))
    page = ada.get(f"/papers/{PAPER}")
    body = doc(page).cssselect(f"#comment-{cid} .comment-body")[0]
    assert body.cssselect("strong")[0].text == "bold"
    assert body.cssselect("math msup")
    link = body.cssselect("a")[0]
    assert link.get("href") == "https://example.org"
    assert link.get("rel") == "nofollow ugc noopener"
    assert texts(page, ".comment-author") == ["Ada Lovelace"]
    assert texts(page, ".discussion .comment-count") == ["1 comment"]
    card = doc(client_for(app).get("/date/2025-02-03")).cssselect(
        f'[data-paper-id="{PAPER}"] .comments-count'
    )
    assert card[0].text_content() == "1 comment"
    assert get_paper(engine, PAPER).num_comments == 1


def test_reply_nests_under_its_parent_and_edit_is_marked(app, engine):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    bob = member(app, engine, "bob@example.org", "Bob")
    first = comment_id(post(ada, "Question?"))
    reply = comment_id(post(bob, "Answer.", parent=first))
    page = doc(bob.get(f"/papers/{PAPER}"))
    assert page.cssselect(f"#comment-{first} .replies #comment-{reply}")
    assert not page.cssselect(f"#comment-{reply} .edited")
    edited = bob.post(f"/comments/{reply}/edit", data={"csrf_token": bob.csrf, "body": "Better."})
    assert edited.status_code == 303
    page = doc(bob.get(f"/papers/{PAPER}"))
    assert page.cssselect(f"#comment-{reply} .edited")[0].text == "edited"
    assert "Better." in page.cssselect(f"#comment-{reply} .comment-body")[0].text_content()
    # Only its author may edit it.
    assert (
        ada.post(f"/comments/{reply}/edit", data={"csrf_token": ada.csrf, "body": "x"}).status_code
        == 403
    )


def test_deleted_comment_with_replies_leaves_a_placeholder_and_one_without_vanishes(app, engine):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    bob = member(app, engine, "bob@example.org", "Bob")
    first = comment_id(post(ada, "Parent text"))
    comment_id(post(bob, "Child text", parent=first))
    lonely = comment_id(post(ada, "Lonely text"))
    for cid in (first, lonely):
        assert ada.post(f"/comments/{cid}/delete", data={"csrf_token": ada.csrf}).status_code == 303
    page = bob.get(f"/papers/{PAPER}")
    assert texts(page, f"#comment-{first} > .comment-placeholder") == ["[deleted]"]
    assert "Parent text" not in page.text and "Child text" in page.text
    assert not doc(page).cssselect(f"#comment-{lonely}")
    assert get_paper(engine, PAPER).num_comments == 1


def test_a_deleted_member_shows_as_deleted_member(app, engine):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    cid = comment_id(post(ada, "Still readable"))
    with engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": ada.user.id})
    page = client_for(app).get(f"/papers/{PAPER}")
    assert texts(page, f"#comment-{cid} .comment-author") == ["deleted member"]
    assert "Still readable" in page.text


def test_too_long_comment_is_refused_with_the_message_at_the_field(app, engine):
    ada = member(app, engine, "ada@example.org")
    response = post(ada, "x" * 10_001)
    assert response.status_code == 422
    page = doc(response)
    error = page.cssselect(".field-error")[0]
    assert "at most 10,000" in error.text_content() and error.get("data-field") == "body"
    assert page.cssselect("textarea[name=body]")[0].text == "x" * 10_001  # the text is kept
    assert get_paper(engine, PAPER).num_comments == 0


def test_comment_post_without_csrf_token_is_refused(app, engine):
    ada = member(app, engine, "ada@example.org")
    response = ada.post(f"/papers/{PAPER}/comments", data={"body": "forged"})
    assert response.status_code == 403
    wrong = ada.post(f"/papers/{PAPER}/comments", data={"body": "forged", "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    # The JSON API on the session cookie (what a forged cross-site fetch would ride) needs the
    # session's token in X-CSRF-Token too; a bearer token is the API's way in.
    api = ada.post(f"/api/papers/{PAPER}/comments", json={"body": "forged"})
    assert api.status_code == 403
    assert get_paper(engine, PAPER).num_comments == 0


def test_rate_limit_holds_and_is_harder_for_new_accounts(app, engine):
    newbie = member(app, engine, "new@example.org")
    codes = [post(newbie, f"comment {i}").status_code for i in range(5)]
    assert codes == [303, 303, 303, 429, 429]
    limited = post(newbie, "one more")
    assert "new accounts may post fewer" in limited.text and limited.headers["retry-after"]
    # An older account gets the normal limit.
    old = member(app, engine, "old@example.org")
    with engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(
            text("UPDATE users SET created_at = '2020-01-01 00:00:00' WHERE id = :id"),
            {"id": old.user.id},
        )
    app.state.caches.changed("user")
    codes = [post(old, f"old {i}").status_code for i in range(11)]
    assert codes.count(303) == 10 and codes[-1] == 429
    assert get_paper(engine, PAPER).num_comments == 13


def test_per_address_limit_holds_across_members(app, engine):
    app.state.discussion.limits = CommentLimits(per_ip=4)
    ada = member(app, engine, "ada@example.org")
    bob = member(app, engine, "bob@example.org")
    codes = [post(who, "hi").status_code for who in (ada, bob, ada, bob)]
    refused = post(bob, "one more from the same network")
    assert codes == [303] * 4 and refused.status_code == 429
    assert "too many comments from your network" in refused.text
    assert get_paper(engine, PAPER).num_comments == 4


def test_comment_upvote_toggles(app, engine):
    ada = member(app, engine, "ada@example.org")
    bob = member(app, engine, "bob@example.org")
    cid = comment_id(post(ada, "Vote me"))
    headers = {"accept": "application/json"}
    first = bob.post(f"/comments/{cid}/upvote", data={"csrf_token": bob.csrf}, headers=headers)
    assert first.json() == {"id": cid, "voted": True, "upvotes": 1}
    assert doc(bob.get(f"/papers/{PAPER}")).cssselect(f"#comment-{cid} .comment-upvote.on")
    again = bob.post(f"/comments/{cid}/upvote", data={"csrf_token": bob.csrf}, headers=headers)
    assert again.json()["upvotes"] == 0


def test_recent_discussion_page_and_paper_comment_feeds(app, engine):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    post(ada, "On the first paper")
    post(ada, "On the math paper", paper=MATH_ID)
    anonymous = client_for(app)
    home = anonymous.get("/")
    assert doc(home).cssselect('nav.main-nav a[href="/discussion"]')
    page = anonymous.get("/discussion")
    assert [t.split(" on ")[0] for t in texts(page, ".recent-comment .comment-meta")] == [
        "Ada Lovelace", "Ada Lovelace"]  # fmt: skip
    assert "On the math paper" in texts(page, ".recent-comment .comment-body")[0]
    atom = feedparser.parse(anonymous.get(f"/feeds/comments/{PAPER}.atom").content)
    assert [e.author for e in atom.entries] == ["Ada Lovelace"]
    assert "On the first paper" in atom.entries[0].content[0].value
    json_feed = anonymous.get(f"/feeds/comments/{PAPER}.json").json()
    assert json_feed["items"][0]["content_text"] == "On the first paper"


def test_reply_notifies_in_app_with_unread_count_and_by_one_mail(app, engine, smtp_server):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    bob = member(app, engine, "bob@example.org", "Bob")
    first = comment_id(post(ada, "My question"))
    comment_id(post(bob, "My answer", parent=first))
    page = ada.get("/")
    assert texts(page, ".account .nav-notifications .unread-count") == ["1"]
    listed = ada.get("/notifications")
    assert "Bob replied to your comment" in texts(listed, ".notification.unread")[0]
    mails = mails_to(app, engine, smtp_server, "ada@example.org", 1)
    assert len(mails) == 1
    assert "Bob replied to your comment" in mails[0]["Subject"]
    assert "My answer" in mails[0].get_body(("plain",)).get_content()
    assert mails[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    ada.post("/notifications/read", data={"csrf_token": ada.csrf})
    assert not doc(ada.get("/")).cssselect(".nav-notifications .unread-count")


def test_mention_notifies_the_member_once_even_when_also_a_reply(app, engine, smtp_server):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    bob = member(app, engine, "bob@example.org", "Bob Smith")
    first = comment_id(post(ada, "Hello"))
    post(bob, "@AdaLovelace see this, and @nobody too", parent=first)
    post(bob, "again @adalovelace")
    assert len(mails_to(app, engine, smtp_server, "ada@example.org", 2)) == 2
    kinds = [k for k, _, _ in notify_store.mail_states(engine, ada.user.id)]
    assert kinds == ["reply", "mention"]  # one per comment: the reply that mentions her is a reply
    page = ada.get(f"/papers/{PAPER}")
    assert "@AdaLovelace" in texts(page, ".comment-body .mention")


def test_comment_on_a_saved_paper_notifies_the_saver(app, engine, smtp_server):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    bob = member(app, engine, "bob@example.org", "Bob")
    coll = coll_store.create_collection(engine, ada.user.id, "Reading")
    coll_store.add_paper(engine, ada.user.id, coll.id, PAPER)
    post(bob, "Nice paper")
    assert [k for k, _, _ in notify_store.mail_states(engine, ada.user.id)] == ["saved_paper"]


def test_comment_on_an_authored_paper_notifies_the_approved_author(app, engine, smtp_server):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    grace = member(app, engine, "grace@example.org", "Grace")
    bob = member(app, engine, "bob@example.org", "Bob")
    author = get_paper(engine, PAPER).authors[0].name
    claims.decide_claim(engine, claims.claim_authorship(engine, ada.user, PAPER, author).id, True)
    claims.claim_authorship(engine, grace.user, PAPER, get_paper(engine, PAPER).authors[1].name)
    post(bob, "A question for the authors")
    mails = mails_to(app, engine, smtp_server, "ada@example.org", 1)
    assert [m["Subject"] for m in mails] == ["paperroute: Bob commented on a paper you authored"]
    assert notify_store.mail_states(engine, grace.user.id) == []  # her claim is still pending
    post(ada, "An answer")  # the author is not told of her own comment
    assert [k for k, _, _ in notify_store.mail_states(engine, ada.user.id)] == ["authored_paper"]


def test_digest_members_get_one_gathered_mail_and_one_click_unsubscribe_works(
    app,
    engine,
    smtp_server,
):
    from datetime import UTC, datetime, timedelta

    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    bob = member(app, engine, "bob@example.org", "Bob")
    saved = ada.post("/notifications/settings",
                     data={"csrf_token": ada.csrf, "mail": "digest",
                           "mail_kind": ["reply", "mention", "saved_paper"]})  # fmt: skip
    assert saved.status_code == 303
    first = comment_id(post(ada, "Hello"))
    post(bob, "One", parent=first)
    post(bob, "Two @AdaLovelace")
    send_notification_mail(app.state.settings, engine)
    assert smtp_server.handler.to("ada@example.org") == []  # not due before the daily time
    later = datetime.now(UTC) + timedelta(days=1, hours=1)
    send_notification_mail(app.state.settings, engine, now=later)
    [mail] = smtp_server.handler.to("ada@example.org")
    assert "2 new notifications" in mail["Subject"]
    url = mail["List-Unsubscribe"].strip("<>")
    anonymous = client_for(app)
    path = url.split("//", 1)[1].split("/", 1)[1]
    assert anonymous.post("/" + path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert notify_store.get_settings(engine, ada.user.id).mail == "off"


def test_a_digest_readers_gathered_notifications_arrive_as_a_section_of_the_digest(
    app,
    engine,
    smtp_server,
):
    from datetime import UTC, datetime, timedelta

    from paperroute.digest.delivery import send_due_digests
    from paperroute.store.subscriptions import Preferences, subscribe_own_address

    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    bob = member(app, engine, "bob@example.org", "Bob")
    subscribe_own_address(engine, ada.user.id, "ada@example.org", Preferences(send_hour=0))
    ada.post("/notifications/settings", data={"csrf_token": ada.csrf, "mail": "digest",
                                               "mail_kind": list(notify_store.KINDS)})  # fmt: skip
    first = comment_id(post(ada, "Hello"))
    reply = comment_id(post(bob, "A reply", parent=first))
    later = datetime.now(UTC) + timedelta(days=1, hours=1)
    send_notification_mail(app.state.settings, engine, now=later)
    assert smtp_server.handler.to("ada@example.org") == []  # no mail of its own: the digest
    assert send_due_digests(app.state.settings, engine, None).sent == 1
    [mail] = smtp_server.handler.to("ada@example.org")
    assert mail["List-Id"].startswith("paperroute digest")
    assert mail["Subject"].endswith(" papers, 1 notification")
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "== Notifications ==" in text
    assert f'Bob replied to your comment on "{get_paper(engine, PAPER).title}"' in text
    assert f"/papers/{PAPER}#comment-{reply}" in text
    html = doc_of(mail.get_body(preferencelist=("html",)).get_content())
    [item] = html.cssselect(".pr-notification")
    assert " ".join(item.text_content().split()).startswith("Bob replied to your comment on")
    # The ledger: sent once, with the digest's Message-ID; no later run mails it again.
    assert notify_store.mail_states(engine, ada.user.id) == [("reply", "sent", mail["Message-ID"])]
    send_notification_mail(app.state.settings, engine, now=later + timedelta(days=1))
    send_due_digests(app.state.settings, engine, None, moment=later)  # tomorrow's digest
    mails = smtp_server.handler.to("ada@example.org")
    assert all(m["List-Id"].startswith("paperroute digest") for m in mails)
    assert "Notifications" not in mails[-1].get_body(preferencelist=("plain",)).get_content()


def test_reported_comment_can_be_hidden_and_member_banned_from_the_queue(app, engine):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    troll = member(app, engine, "troll@example.org", "Troll")
    admin = member(app, engine, "admin@example.org", "Admin", admin=True)
    bad = comment_id(post(troll, "Spam spam"))
    other = comment_id(post(troll, "More spam", paper=MATH_ID))
    done = ada.post(f"/comments/{bad}/report", data={"csrf_token": ada.csrf, "reason": "spam"})
    assert "moderators will look" in done.text
    queue = admin.get("/admin/moderation")
    assert texts(queue, f"#reported-{bad} .reasons li") == ["spam"]
    assert ada.get("/admin/moderation").status_code == 403
    admin.post(f"/admin/comments/{bad}/moderate", data={"csrf_token": admin.csrf, "action": "hide"})
    assert "Spam spam" not in client_for(app).get(f"/papers/{PAPER}").text
    assert get_paper(engine, PAPER).num_comments == 0
    assert texts(admin.get("/admin/moderation"), ".reported-comment") == []
    admin.post(f"/admin/users/{troll.user.id}/ban", data={"csrf_token": admin.csrf})
    assert f"comment-{other}" not in client_for(app).get(f"/papers/{MATH_ID}").text
    refused = post(troll, "I am back")
    assert refused.status_code == 403 and "banned" in refused.text
    assert get_paper(engine, PAPER).num_comments == 0  # a refused post counts nothing


def test_a_reply_to_a_comment_that_is_not_there_is_refused_and_counts_nothing(app, engine):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    other = comment_id(post(ada, "On the other paper", paper=MATH_ID))
    for parent in (other, 999_999):  # another paper's comment, no comment at all
        refused = post(ada, "A reply", parent=parent)
        assert refused.status_code == 422 and "no such comment to reply to" in refused.text
    assert get_paper(engine, PAPER).num_comments == 0
    assert get_paper(engine, MATH_ID).num_comments == 1


def test_account_export_holds_own_comments_and_reports(app, engine):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    bob = member(app, engine, "bob@example.org", "Bob")
    cid = comment_id(post(bob, "Bob's words"))
    comment_id(post(ada, "Ada's words"))
    ada.post(f"/comments/{cid}/report", data={"csrf_token": ada.csrf, "reason": "rude"})
    from paperroute.store.account import export_account

    exported = export_account(engine, ada.user.id)
    assert [c["body"] for c in exported["comments"]] == ["Ada's words"]
    assert exported["comment_reports"] == [
        {"comment_id": cid, "reason": "rude", "at": exported["comment_reports"][0]["at"],
         "resolution": None}]  # fmt: skip


def test_comment_api_reads_threads_and_writes_with_a_bearer_token(app, engine):
    user = add_user(engine, "api@example.org")
    update_profile(engine, user.id, "Api User")
    token = auth.create_api_token(engine, user.id, "test")
    api = client_for(app)
    bearer = {"authorization": f"Bearer {token}"}
    created = api.post(f"/api/papers/{PAPER}/comments", json={"body": "Via *API*"}, headers=bearer)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert created.json()["html"] == "<p>Via <em>API</em></p>\n"
    reply = api.post(f"/api/papers/{PAPER}/comments", json={"body": "Re", "parentId": cid},
                     headers=bearer).json()  # fmt: skip
    thread = api.get(f"/api/papers/{PAPER}/comments?limit=1").json()
    assert thread["numComments"] == 2 and thread["totalThreads"] == 1
    assert thread["comments"][0]["replies"][0]["id"] == reply["id"]
    edited = api.patch(f"/api/comments/{cid}", json={"body": "Edited"}, headers=bearer).json()
    assert edited["editedAt"] is not None and edited["body"] == "Edited"
    assert api.delete(f"/api/comments/{cid}", headers=bearer).json() == {"id": cid, "deleted": True}
    placeholder = api.get(f"/api/papers/{PAPER}/comments").json()["comments"][0]
    assert placeholder["deleted"] and placeholder["body"] == "" and placeholder["replies"]
    assert api.post(f"/api/papers/{PAPER}/comments", json={"body": "x"}).status_code == 401
    too_long = api.post(
        f"/api/papers/{PAPER}/comments", json={"body": "x" * 10_001}, headers=bearer
    )
    assert too_long.status_code == 422 and "at most 10,000" in too_long.json()["error"]
    # The HF-compatible API counts the visible comments.
    assert api.get(f"/api/papers/{PAPER}").json()["numComments"] == 1
    day = api.get("/api/daily_papers?date=2025-02-03").json()
    assert {e["paper"]["id"]: e["numComments"] for e in day}[PAPER] == 1


def test_comment_api_is_documented_in_openapi_with_examples(app):
    schema = client_for(app).get("/openapi.json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/papers/{paper_id}/comments"])
    assert {"patch", "delete"} <= set(paths["/api/comments/{comment_id}"])
    assert schema["components"]["schemas"]["CommentIn"]["examples"]


def test_a_post_forgets_only_its_papers_rendered_thread(mail_settings, engine):
    """A new comment shows at once on its paper, while every other paper's rendered thread and
    the members' cached accounts stay (clearing them all made each post cost every reader a
    re-render)."""
    seed(engine)
    app = make_app(mail_settings, engine, page_cache_ttl=60)
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    comment_id(post(ada, "On the math paper", paper=MATH_ID))
    assert ada.get(f"/papers/{MATH_ID}").status_code == 200
    assert ada.get(f"/papers/{PAPER}").status_code == 200
    data = app.state.caches.data
    assert data.get(("thread-html", MATH_ID, True)) is not None
    cid = comment_id(post(ada, "A new one"))
    assert data.get(("thread-html", MATH_ID, True)) is not None  # another paper's: kept
    assert data.get(("user", ada.user.id)) is not None
    assert data.get(("thread-html", PAPER, True)) is None
    assert doc(ada.get(f"/papers/{PAPER}")).cssselect(f"#comment-{cid}")
    assert get_paper(engine, PAPER).num_comments == 1


def test_one_post_notifies_the_replied_to_the_mentioned_and_the_saver_each_once(app, engine):
    ada = member(app, engine, "ada@example.org", "Ada Lovelace")
    bob = member(app, engine, "bob@example.org", "Bob Smith")
    cy = member(app, engine, "cy@example.org", "Cy Young")
    coll = coll_store.create_collection(engine, cy.user.id, "Reading")
    coll_store.add_paper(engine, cy.user.id, coll.id, PAPER)
    first = comment_id(post(ada, "Hello"))  # Cy saved the paper: told
    post(bob, "@CyYoung @AdaLovelace @BobSmith look", parent=first)
    assert [k for k, _, _ in notify_store.mail_states(engine, ada.user.id)] == ["reply"]
    assert [k for k, _, _ in notify_store.mail_states(engine, cy.user.id)] == [
        "saved_paper",
        "mention",
    ]
    assert notify_store.mail_states(engine, bob.user.id) == []  # not of his own comment
