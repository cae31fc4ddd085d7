-- pgconsole 0001: settings the queue reads at run time (per-user limit, dedupe window, ...).
-- The schema itself and pgconsole.schema_migrations are created by the runner before any file.
CREATE TABLE pgconsole.settings (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]{0,62}$'),
    value       jsonb NOT NULL,
    description text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgconsole.settings IS 'Run-time settings of the pgconsole queue; change with UPDATE, read by the SQL API.';
GRANT SELECT ON pgconsole.settings TO pgconsole_readonly, pgconsole_app;
