"""An XSS payload list planted in every stored text field of a paper, and in a member's name, a
collection and a saved search, rendered in real chromium on every page that shows them.

Two checks per page, so that the strict CSP alone cannot make the test pass: no payload ran
(`window.__pwned` stays unset, no dialog opened), and the DOM holds no element that a payload
made: no <script>/<svg>/<math>/<img> carrying `__pwned`, no `on*` attribute, no `javascript:` link.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

import pytest

from paperroute.models import Author, PaperRecord
from paperroute.store import auth
from paperroute.store import collections as coll_store
from paperroute.store.orgs import create_org, slugify
from paperroute.store.papers import upsert_records
from paperroute.store.users import add_user, update_profile

PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    '<svg onload="window.__pwned=3"></svg>',
    '"><script>window.__pwned=4</script>',
    "'><img src=x onerror=window.__pwned=5>",
    "&lt;script&gt;window.__pwned=6&lt;/script&gt;",
    "$\\href{javascript:window.__pwned=7}{x}$",
    "<math><mtext><img src=x onerror=window.__pwned=8></mtext></math>",
    "[x](javascript:window.__pwned=9)",
    "<a href=javascript:window.__pwned=10>x</a>",
]
EVIL = " ".join(PAYLOADS)
EVIL_ID = "2502.09999"
URL = "javascript:window.__pwned=11"

# Elements a payload would have created, attributes it would have set: none may exist.
FORGED = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) bad.push(el.tagName + ' ' + attr.name);
      if (/^\\s*javascript:/i.test(attr.value) && ['href', 'src', 'action'].includes(attr.name))
        bad.push(el.tagName + ' ' + attr.name + '=' + attr.value);
    }
    if (['SCRIPT', 'SVG', 'MATH', 'IMG', 'IFRAME'].includes(el.tagName.toUpperCase())
        && (el.outerHTML.includes('__pwned'))) bad.push(el.outerHTML.slice(0, 80));
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def planted(site):
    """The hostile paper, a member with a hostile name, collection and saved search."""
    record = PaperRecord(
        source="test",
        id=EVIL_ID,
        title="Hostile " + EVIL,
        abstract="Abstract " + EVIL,
        authors=[Author("Mallory " + PAYLOADS[1], affiliations=[EVIL])],
        categories=["cs.LG", PAYLOADS[0]],
        announced=date(2025, 2, 6),
        comments=EVIL,
        journal_ref=EVIL,
        doi='10.1/"><script>window.__pwned=12</script>',
        license=URL,
        code_url=URL,
        project_url=URL,
        keywords=PAYLOADS[:4],
        ai_summary="Summary " + EVIL,
        organization="Org " + PAYLOADS[2],
    )
    upsert_records(site.engine, [record])
    user = add_user(site.engine, "mallory@example.org")
    update_profile(site.engine, user.id, "Mallory " + PAYLOADS[0])
    shelf = coll_store.create_collection(
        site.engine, user.id, "Shelf " + PAYLOADS[1], description=EVIL, is_public=True
    )
    coll_store.add_paper(site.engine, user.id, shelf.id, EVIL_ID)
    coll_store.save_search(site.engine, user.id, "Search " + PAYLOADS[2], "q=hostile")
    return shelf.id


def _sign_in(page, base: str, engine) -> None:
    token = auth.create_login_token(engine, "mallory@example.org")
    page.goto(f"{base}/signin/verify?token={token}")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()


def test_planted_payloads_never_run_on_any_page(site, page, planted):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, site.url, site.engine)
    paths = [
        "/",
        "/date/2025-02-06",
        f"/papers/{EVIL_ID}",
        "/search?q=hostile",
        f"/collections/{planted}",
        "/collections",
        "/profile",
        "/for-you",
        "/trending",
        "/categories/cs.LG",
        f"/authors/{quote('Mallory')}",
    ]
    for path in paths:
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("typeof window.__pwned") == "undefined", path
        assert page.evaluate(FORGED) == [], path
    assert dialogs == []
    # The text is shown, escaped, not dropped: the reader sees what the source said.
    page.goto(f"{site.url}/papers/{EVIL_ID}")
    assert "<script>window.__pwned=1</script>" in page.locator("h1").inner_text()


@pytest.fixture(scope="module")
def community(site, planted):
    """Mallory submitted the hostile paper and is its approved author; an admin made an
    organisation with a hostile name that the paper's hostile organisation belongs to."""
    from datetime import UTC, datetime

    from paperroute.store import claims, submissions
    from paperroute.store.users import get_user_by_email

    user = get_user_by_email(site.engine, "mallory@example.org")
    roomy = submissions.Limits(max_age_days=100_000, daily_quota=5, new_account_quota=5)
    submissions.record_submission(site.engine, user, EVIL_ID, roomy, now=datetime.now(UTC))
    made = claims.claim_authorship(site.engine, user, EVIL_ID, "Mallory " + PAYLOADS[1])
    claims.decide_claim(site.engine, made.id, approve=True)
    org = create_org(site.engine, "Lab " + PAYLOADS[4], ["Org " + PAYLOADS[2]])
    return user, org


def test_payloads_in_member_and_organisation_names_never_run(site, page, community):
    user, org = community
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, site.url, site.engine)
    orgs = ["/orgs/" + quote(org.slug), "/orgs/" + quote(slugify("Org " + PAYLOADS[2]))]
    paths = ["/", f"/papers/{EVIL_ID}", f"/members/{user.public_handle}", *orgs,
             f"/papers/{EVIL_ID}?format=json", "/profile", "/submit"]  # fmt: skip
    for path in paths:
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("typeof window.__pwned") == "undefined", path
        assert page.evaluate(FORGED) == [], path
    assert dialogs == []
    page.goto(f"{site.url}/papers/{EVIL_ID}")
    assert page.locator(".submission .submitted-by").inner_text() == (
        "submitted by Mallory " + PAYLOADS[0]
    )
    assert page.locator(".authors .author-badge").count() == 1
    page.goto(site.url + "/orgs/" + quote(org.slug))
    assert page.locator("h1.org-name").inner_text() == "Lab " + PAYLOADS[4]


# Comments are Markdown with math: the payloads above plus the tricks that only Markdown, links
# and the math renderer open up.
COMMENT_PAYLOADS = [
    *PAYLOADS,
    "[x](JaVaScRiPt:window.__pwned=13)",
    "[x](&#106;avascript:window.__pwned=14)",
    "[x]( javascript:window.__pwned=15 )",
    "<javascript:window.__pwned=16>",
    "![x](javascript:window.__pwned=17)",
    "[a reference][evil]\n\n[evil]: javascript:window.__pwned=18",
    "[x](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xOTwvc2NyaXB0Pg==)",
    "[x](vbscript:window.__pwned=20)",
    "$\\unicode{60}script\\unicode{62}window.__pwned=21$",
    "$$\\href{javascript:window.__pwned=22}{\\text{click}}$$",
    "$\\url{javascript:window.__pwned=23}$",
    "<math><maction actiontype=statusline xlink:href=javascript:window.__pwned=24>x</maction>"
    "</math>",
    "<math href=javascript:window.__pwned=25><mi>x</mi></math>",
    "&#60;script&#62;window.__pwned=26&#60;/script&#62;",
    "&lt;img src=x onerror=window.__pwned=27&gt;",
    "<iframe srcdoc='<script>parent.__pwned=28</script>'></iframe>",
    '<details open ontoggle="window.__pwned=29">x</details>',
    "`<script>window.__pwned=30</script>`",
    "@<img/src=x/onerror=window.__pwned=31>",
    '<a href="https://example.org" onclick="window.__pwned=32">ok</a>',
    "<style>body{background:url(javascript:window.__pwned=33)}</style>",
]
COMMENT = "\n\n".join(COMMENT_PAYLOADS)

# Every link a comment may hold goes to the web or the site, and is marked as user content.
LINKS = """() => [...document.querySelectorAll('.comment-body a, .comment-body [href]')]
  .map(a => [a.getAttribute('href') || '', a.getAttribute('rel') || ''])
  .filter(([href, rel]) => !/^(https?:|\\/|#|mailto:)/i.test(href)
    || (/^https?:/i.test(href) && !['nofollow', 'ugc', 'noopener'].every(r => rel.includes(r))))"""


def test_payloads_in_comments_never_run(site, page, community):
    user, _ = community
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, site.url, site.engine)
    # Planted the way a member would: through the comment form, then a reply to it.
    page.goto(f"{site.url}/papers/{EVIL_ID}")
    page.fill("#body-new", COMMENT)
    page.click("form.comment-form:has(#body-new) button[type=submit]")
    page.wait_for_url("**#comment-*")
    first = page.url.rsplit("#comment-", 1)[1]
    page.locator(f"#comment-{first} details.reply > summary").first.click()
    page.fill(f"#body-{first}", COMMENT)
    page.click(f"form.comment-form:has(#body-{first}) button[type=submit]")
    page.wait_for_selector(f"#comment-{first} .replies article.comment")
    assert page.locator(".comment-body").count() == 2
    # A moderator reads it in the queue, after someone reported it.
    admin = add_user(site.engine, "admin-xss@example.org", is_admin=True)
    from paperroute.store.comments import report_comment

    report_comment(site.engine, int(first), admin.id, "Reason " + EVIL)
    paths = [
        f"/papers/{EVIL_ID}",
        "/discussion",
        f"/members/{user.public_handle}",
        f"/comments/{first}/edit",
        f"/comments/{first}/report",
        f"/papers/{EVIL_ID}/comments/new?parent_id={first}",
        f"/feeds/comments/{EVIL_ID}.json",
    ]
    for path in paths:
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("typeof window.__pwned") == "undefined", path
        assert page.evaluate(FORGED) == [], path
        assert page.evaluate(LINKS) == [], path
    token = auth.create_login_token(site.engine, "admin-xss@example.org")
    page.goto(f"{site.url}/signin/verify?token={token}")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    for path in ["/admin/moderation", f"/papers/{EVIL_ID}", "/notifications"]:
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("typeof window.__pwned") == "undefined", path
        assert page.evaluate(FORGED) == [], path
        assert page.evaluate(LINKS) == [], path
    assert dialogs == []
    # The text stays readable, not dropped: the code span shows the script as text.
    page.goto(f"{site.url}/papers/{EVIL_ID}")
    body = page.locator(f"#comment-{first} > .comment-body")
    assert "<script>window.__pwned=30</script>" in body.locator("code").all_inner_texts()
