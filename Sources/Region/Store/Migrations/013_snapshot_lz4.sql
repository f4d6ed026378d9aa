-- Table snapshots compressed with LZ4 where the server has it (Debian's PostgreSQL does).
-- Migration 006 stored them uncompressed because pglz took seconds on a 53 MB snapshot; LZ4
-- takes about a tenth of a second, shrinks a 100k-machine snapshot about 4:1 (names and
-- answers repeat), and so cuts what every compile writes to TOAST and WAL by three quarters.
-- Snapshots already stored stay as they are; a server built without LZ4 keeps 006's setting.
-- The statements go through EXECUTE so that a server older than 14, which has no SET
-- COMPRESSION and no default_toast_compression, never parses them.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        EXECUTE 'ALTER TABLE table_snapshots ALTER COLUMN bytes SET STORAGE EXTENDED';
        EXECUTE 'ALTER TABLE table_snapshots ALTER COLUMN bytes SET COMPRESSION lz4';
    END IF;
END
$$;
