"""`paperroute users` and the schema check `serve` and `create_app` do before serving."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from paperroute.app import create_app
from paperroute.cli import app as cli
from paperroute.cli import prepare_database
from paperroute.store.auth import user_id_for_api_token
from paperroute.store.engine import StaleSchemaError
from paperroute.store.users import get_user_by_email
from webtools import client_for, make_app


def run(settings, *args: str):
    base = ["--data-dir", str(settings.data_dir), "--database-url", settings.sqlalchemy_url]
    return CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)


def test_first_admin_is_made_from_the_command_line(settings, engine):
    result = run(settings, "users", "add", "Boss@Example.org", "--admin")
    assert result.exit_code == 0, result.output
    user = get_user_by_email(engine, "boss@example.org")
    assert user.is_admin
    assert "boss@example.org\tadmin" in run(settings, "users", "list").stdout
    run(settings, "users", "admin", "boss@example.org", "--revoke")
    assert not get_user_by_email(engine, "boss@example.org").is_admin


def test_cli_token_works_as_a_bearer_token(settings, engine):
    run(settings, "users", "add", "bot@example.org")
    token = run(settings, "users", "token", "bot@example.org", "--name", "ci").stdout.strip()
    assert user_id_for_api_token(engine, token) == get_user_by_email(engine, "bot@example.org").id
    missing = run(settings, "users", "token", "nobody@example.org")
    assert missing.exit_code == 2


def test_bad_email_is_refused_with_a_message(settings, engine):
    result = run(settings, "users", "add", "not-an-email")
    assert result.exit_code == 2
    assert "'not-an-email' is not one email address" in result.output


def _make_stale(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000_old'"))


def test_a_stale_schema_is_refused_unless_told_to_migrate(settings, engine):
    _make_stale(engine)
    with pytest.raises(StaleSchemaError, match="paperroute serve --migrate"):
        create_app(settings, engine=engine)
    with pytest.raises(typer.Exit):
        prepare_database(settings, migrate_schema=False)


def test_a_new_database_is_created_on_first_serve(settings):
    engine = prepare_database(settings, migrate_schema=False)
    assert client_for(make_app(settings, engine)).get("/").status_code == 200
    engine.dispose()


def test_settings_with_placeholder_secret_are_refused_in_production(settings, engine):
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(ValueError, match="SECRET_KEY"):
        create_app(production, engine=engine)
