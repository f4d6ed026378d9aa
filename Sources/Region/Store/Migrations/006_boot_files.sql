-- Boot resource files (kernels, initrds, root file systems) live in the database, in 4 MiB
-- chunks: every region process of a shared database can serve every file, and a backup of the
-- database is a backup of the images. A file is named by its SHA-256 once its upload is
-- complete and verified; until then its chunks are staged under the upload's own name.
CREATE TABLE boot_files (
    sha256 sha256_hex PRIMARY KEY,
    size bigint NOT NULL CONSTRAINT boot_files_size_range CHECK (size >= 0),
    chunks int NOT NULL CONSTRAINT boot_files_chunks_range CHECK (chunks >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE boot_file_chunks (
    -- A complete file's SHA-256, or 'upload:' and a random id while it is being uploaded.
    file text NOT NULL,
    index int NOT NULL CONSTRAINT boot_file_chunks_index_range CHECK (index >= 0),
    bytes bytea NOT NULL,
    staged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (file, index)
);

-- Images are compressed already, and a table snapshot is read whole: storing either out of
-- line without compression saves the compression on every write (seconds for a 50 MB
-- snapshot) and costs little space.
ALTER TABLE boot_file_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;
ALTER TABLE table_snapshots ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- A file no boot resource names any more is deleted with its chunks (staged uploads excepted).
CREATE FUNCTION delete_unreferenced_boot_files() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM boot_files f WHERE NOT EXISTS (
        SELECT 1 FROM boot_resources r WHERE f.sha256 IN (r.kernel_sha256, r.initrd_sha256, r.rootfs_sha256));
    DELETE FROM boot_file_chunks c WHERE c.file NOT LIKE 'upload:%'
        AND NOT EXISTS (SELECT 1 FROM boot_files f WHERE f.sha256 = c.file);
    RETURN NULL;
END
$$;
CREATE TRIGGER boot_resources_files_released AFTER DELETE OR UPDATE ON boot_resources
    FOR EACH STATEMENT EXECUTE FUNCTION delete_unreferenced_boot_files();
