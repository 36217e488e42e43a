"""Alembic environment: runs migrations on the engine handed over by store.engine.migrate."""

from alembic import context

from paperroute.store.migrations.env_filters import include_object
from paperroute.store.schema import metadata

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
