"""A reader in a real browser imports a small BibTeX file, sees recommendations with reasons,
marks one "not interested" and sees it go at once (no reload), takes it back with Undo, then
exports a search result as BibTeX."""

from __future__ import annotations

from webtools import link_in

BIB = """@article{one,
  title = {Paper 2502.00001 on learning},
  eprint = {2502.00001}, archivePrefix = {arXiv}
}

@article{broken,
  title = {Never closed

@misc{two, url = {https://arxiv.org/abs/2502.00002v1}}
"""


def _sign_in(site, smtp, page, email: str) -> None:
    page.goto(site.url + "/signin")
    page.fill("input[name=email]", email)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your email")
    page.goto(link_in(smtp.handler.to(email)[-1]))
    page.click("#finish-signin")
    page.wait_for_selector("a.who")


def test_import_bibtex_see_reasons_and_reject_a_recommendation(site, smtp, page, tmp_path):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(site, smtp, page, "library@example.org")
    page.click("nav >> text=For you")
    page.wait_for_selector(".foryou-message")

    library = tmp_path / "zotero.bib"
    library.write_text(BIB)
    page.click("summary >> text=Import or export your library")  # folded away until asked for
    page.set_input_files(".import-form input[type=file]", str(library))
    page.click(".import-form button[type=submit]")
    page.wait_for_selector(".import-summary")
    assert "2 matched (2 newly saved" in page.locator(".import-summary").inner_text()
    assert "line 6" in page.locator(".import-errors li").first.inner_text()

    page.goto(site.url + "/for-you?window=month")
    cards = page.locator(".recommendations .paper-card")
    assert cards.count() >= 3
    first = cards.first.get_attribute("data-paper-id")
    assert first not in ("2502.00001", "2502.00002")
    reason = page.locator(".reason").first.inner_text()
    assert "Because you saved" in reason and "Paper 2502.0000" in reason

    card = page.locator(f".recommendations .paper-card[data-paper-id='{first}']")
    assert card.locator(".reason").count() == 1  # the reason is inside its card
    page.evaluate("window.__samePage = true")
    card.locator("button.not-interested").click()
    note = page.locator(f".dismissed-note[data-paper-id='{first}']")
    note.wait_for()
    assert card.is_hidden() and "Hidden: " in note.inner_text()
    note.locator("button", has_text="Undo").click()
    card.wait_for(state="visible")
    assert note.count() == 0
    card.locator("button.not-interested").click()
    note.wait_for()
    assert page.evaluate("window.__samePage === true")  # no page load happened

    page.reload()
    shown = [
        c.get_attribute("data-paper-id") for c in page.locator(".recommendations .paper-card").all()
    ]
    assert first not in shown
    assert page.locator(".not-interested-list li").count() == 1

    found = page.request.get(site.url + "/library/export?q=learning&format=bibtex")
    assert found.ok and "attachment" in found.headers["content-disposition"]
    assert found.text().count("@misc{") >= 3 and "archivePrefix = {arXiv}" in found.text()
    assert not errors, errors
