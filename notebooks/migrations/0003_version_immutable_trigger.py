"""The database refuses any UPDATE of a notebook version: versions are written once."""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION notebooks_version_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'notebook versions are immutable (version % of notebook %)', OLD.number, OLD.notebook_id
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER notebooks_version_no_update
    BEFORE UPDATE ON notebooks_notebookversion
    FOR EACH ROW EXECUTE FUNCTION notebooks_version_immutable();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS notebooks_version_no_update ON notebooks_notebookversion;
DROP FUNCTION IF EXISTS notebooks_version_immutable();
"""
# Embedded mode runs on SQLite: the same rule, in its dialect.
SQLITE_FORWARD = """
CREATE TRIGGER notebooks_version_no_update BEFORE UPDATE ON notebooks_notebookversion
BEGIN SELECT RAISE(ABORT, 'notebook versions are immutable'); END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS notebooks_version_no_update;"


def _run(sql: dict[str, str]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        statement = sql.get(schema_editor.connection.vendor)
        if statement:
            schema_editor.execute(statement, params=None)  # None: the trigger body has literal %

    return run


class Migration(migrations.Migration):
    dependencies = [("notebooks", "0002_versions_grants_audit")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
