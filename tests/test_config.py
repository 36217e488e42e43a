"""Settings: documented, layered, validated."""

from pathlib import Path

import pytest

from paperroute.config import Settings, load_settings, settings_markdown

DOC = Path(__file__).parents[1] / "docs" / "configuration.md"


def test_every_setting_is_documented_in_docs_configuration():
    assert DOC.read_text() == settings_markdown(), (
        "docs/configuration.md is stale: regenerate it with "
        "python -c 'from paperroute.config import settings_markdown; print(settings_markdown())'"
    )
    for name in Settings.model_fields:
        assert f"`PAPERROUTE_{name.upper()}`" in DOC.read_text()


def test_environment_overrides_toml_and_flags_override_environment(tmp_path, monkeypatch):
    toml = tmp_path / "paperroute.toml"
    toml.write_text('[paperroute]\nsite_name = "from toml"\nsmtp_port = 2525\n')
    monkeypatch.setenv("PAPERROUTE_CONFIG", str(toml))
    monkeypatch.setenv("PAPERROUTE_SITE_NAME", "from env")
    assert load_settings().smtp_port == 2525
    assert load_settings().site_name == "from env"
    assert load_settings(site_name="from flag").site_name == "from flag"


def test_production_refuses_the_placeholder_secret(monkeypatch):
    monkeypatch.setenv("PAPERROUTE_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("PAPERROUTE_SECRET_KEY", "a-real-long-random-secret-value")
    monkeypatch.setenv("PAPERROUTE_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("PAPERROUTE_MAIL_FROM", "Papers <papers@example.org>")
    assert load_settings().environment == "production"


@pytest.mark.parametrize(
    "env",
    [{}, {"PAPERROUTE_SMTP_HOST": "mail.example.org"}],
    ids=["no smtp host", "no real From address"],
)
def test_production_refuses_to_start_without_mail_settings_and_names_them(monkeypatch, env):
    monkeypatch.setenv("PAPERROUTE_ENVIRONMENT", "production")
    monkeypatch.setenv("PAPERROUTE_SECRET_KEY", "a-real-long-random-secret-value")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as refused:
        load_settings()
    assert "PAPERROUTE_SMTP_HOST" in str(refused.value)
    assert "PAPERROUTE_MAIL_FROM" in str(refused.value)


def test_dump_masks_secrets_and_database_passwords():
    dumped = load_settings(
        database_url="postgresql+psycopg://bob:hunter2@db/papers", smtp_password="pw"
    ).dump()
    assert "hunter2" not in str(dumped) and dumped["smtp_password"] == "********"
    assert dumped["database_url"] == "postgresql+psycopg://********@db/papers"


def test_pgvector_backend_on_sqlite_is_refused_with_the_setting_named(tmp_path):
    with pytest.raises(ValueError, match="vector_backend 'pgvector' needs a PostgreSQL"):
        load_settings(data_dir=tmp_path, vector_backend="pgvector")
    assert load_settings(data_dir=tmp_path, vector_backend="usearch").vector_backend == "usearch"


def test_cli_reports_an_invalid_setting_without_a_traceback(tmp_path):
    from typer.testing import CliRunner

    from paperroute.cli import app

    env = {"PAPERROUTE_DATA_DIR": str(tmp_path), "PAPERROUTE_VECTOR_BACKEND": "pgvector"}
    result = CliRunner().invoke(app, ["stats"], env=env)
    assert result.exit_code == 2
    assert "needs a PostgreSQL" in result.output and "Traceback" not in result.output


def test_every_source_builds_from_default_settings(tmp_path):
    """Each source's from_settings reads only settings that exist (they once read missing ones)."""
    from datetime import date

    from paperroute.sources.acl_anthology import AclAnthologySource
    from paperroute.sources.biorxiv import BiorxivDetailsSource
    from paperroute.sources.crossref import CrossrefSource
    from paperroute.sources.feeds import JournalFeedSource
    from paperroute.sources.openalex import OpenAlexSource
    from paperroute.sources.openreview import OpenReviewSource
    from paperroute.sources.pubmed import PubMedSource
    from paperroute.sources.pwc import PapersWithCodeEnrichment
    from paperroute.sources.semantic_scholar import SemanticScholarEnrichment

    settings = load_settings(data_dir=tmp_path)
    built = [
        AclAnthologySource.from_settings(settings, ["2024.acl"]),
        BiorxivDetailsSource.from_settings(settings, date(2024, 1, 1), date(2024, 1, 2)),
        BiorxivDetailsSource.from_settings(
            settings, date(2024, 1, 1), date(2024, 1, 2), server="medrxiv"
        ),
        CrossrefSource.from_settings(settings, issn="1234-5678"),
        OpenAlexSource.from_settings(settings, filters={"type": "article"}),
        OpenReviewSource.from_settings(settings, "ICLR.cc/2024/Conference"),
        PubMedSource.from_settings(settings, "transformer"),
        JournalFeedSource.from_settings(settings, "https://example.org/feed.xml"),
        SemanticScholarEnrichment.from_settings(settings, []),
        PapersWithCodeEnrichment.from_settings(settings, []),
    ]
    assert [s.name for s in built] == [
        "acl-anthology", "biorxiv", "medrxiv", "crossref", "openalex", "openreview", "pubmed",
        "journal-feed", "semantic_scholar", "pwc",
    ]  # fmt: skip
    crossref = CrossrefSource.from_settings(
        load_settings(data_dir=tmp_path, crossref_mailto="lab@example.org"), issn="1234-5678"
    )
    assert crossref.mailto == "lab@example.org"
    keyed = OpenAlexSource.from_settings(
        load_settings(data_dir=tmp_path, openalex_api_key="k3y"), filters={"type": "article"}
    )
    assert keyed.api_key == "k3y" and "k3y" not in str(load_settings(openalex_api_key="k3y").dump())
