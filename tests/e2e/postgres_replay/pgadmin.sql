-- pgadmin: the statements it sends on connect and while browsing tables.
-- Captured by datafusion-postgres 0.19.0 (tests/pgadmin.rs).
-- Statements are separated by a line holding only ';'.
;
SELECT version()
;
SELECT CASE
        WHEN (SELECT count(extname) FROM pg_catalog.pg_extension WHERE extname='bdr') > 0
        THEN 'pgd'
        WHEN (SELECT COUNT(*) FROM pg_replication_slots) > 0
        THEN 'log'
        ELSE NULL
    END as type
