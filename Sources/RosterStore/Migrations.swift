/// The database's schema as numbered steps. A step is never edited once released; a change is a new step.
///
/// Design notes:
/// - An account is our customer (a district, a school or a teacher). A district account that connects to
///   Clever has one `districts` row; `(account_id, account_kind)` points at `accounts (id, kind)` with
///   `account_kind` fixed to `district`, so only a district account can ever hold one.
/// - Rostered rows belong to an account, keep their Clever id, a source and a `deleted_at` (soft delete).
/// - `user_schools` and `enrollments` carry `account_id` so a district's sync reads its own rows through
///   one index, and have no foreign keys: a first sync of a large district inserts millions of them, and
///   per-row key checks would cost more than the whole merge; the sync resolves both ends by join in the
///   same transaction instead.
/// - Step 4 drops the `account_id` indexes of `user_schools` and `enrollments`: a district's rows are
///   found through its users and classrooms (the primary keys start with `user_id` and `classroom_id`), and
///   keeping an index on a column that has one value per district cost 40 % of a first sync's enrollment
///   inserts. The column stays for the version triggers. It also drops the journal's foreign key to its
///   run: only the run's own apply writes journal rows, and checking the key row by row was 40 % of the
///   journal's time on a first sync (a million rows).
/// - Statement-level triggers bump `districts.roster_version` whenever any writer changes a district's
///   roster, so a held plan can tell that the data under it moved.
enum Migrations {
    struct Step {
        let version: Int
        let name: String
        let sql: String
    }

    static let steps: [Step] = [
        Step(version: 1, name: "accounts, districts and the roster", sql: roster),
        Step(version: 2, name: "sync runs, findings, held plans and the change journal", sql: runs),
        Step(version: 3, name: "roster version triggers", sql: versionTriggers),
        Step(version: 4, name: "lighter writes for the bulk of a district", sql: lighterWrites),
        Step(version: 100, name: "fleet jobs and nightly slots", sql: fleet),
        Step(version: 200, name: "onboarding requests, sign-in providers and CSV admins", sql: onboarding),
    ]

    static let roster = """
        CREATE TABLE accounts (
            id bigserial PRIMARY KEY,
            kind text NOT NULL CHECK (kind IN ('district', 'school', 'teacher')),
            name text NOT NULL,
            username_domain text,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (id, kind)
        );

        CREATE TABLE districts (
            account_id bigint PRIMARY KEY,
            account_kind text NOT NULL DEFAULT 'district' CHECK (account_kind = 'district'),
            clever_id text NOT NULL UNIQUE,
            name text NOT NULL,
            status text NOT NULL DEFAULT 'pending' CHECK (status IN
                ('pending', 'connected', 'disconnected_over_license', 'disconnected_revoked')),
            paused boolean NOT NULL DEFAULT false,
            approved_schools text[],
            allowed_grades text[],
            licenses integer CHECK (licenses >= 0),
            start_date date,
            clever_sso boolean NOT NULL DEFAULT false,
            guard_delete_pct numeric NOT NULL DEFAULT 10 CHECK (guard_delete_pct >= 0),
            guard_update_pct numeric NOT NULL DEFAULT 75 CHECK (guard_update_pct >= 0),
            roster_version bigint NOT NULL DEFAULT 0,
            first_synced_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            FOREIGN KEY (account_id, account_kind) REFERENCES accounts (id, kind)
        );

        CREATE TABLE schools (
            id bigserial PRIMARY KEY,
            account_id bigint NOT NULL REFERENCES accounts (id),
            clever_id text,
            source text NOT NULL CHECK (source IN ('clever', 'csv', 'native')),
            name text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz,
            UNIQUE (account_id, clever_id)
        );

        CREATE TABLE classrooms (
            id bigserial PRIMARY KEY,
            account_id bigint NOT NULL REFERENCES accounts (id),
            school_id bigint REFERENCES schools (id),
            clever_id text,
            source text NOT NULL CHECK (source IN ('clever', 'csv', 'native')),
            name text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz,
            UNIQUE (account_id, clever_id)
        );
        CREATE INDEX classrooms_school_idx ON classrooms (school_id);

        CREATE TABLE users (
            id bigserial PRIMARY KEY,
            account_id bigint NOT NULL REFERENCES accounts (id),
            clever_id text,
            source text NOT NULL CHECK (source IN ('clever', 'csv', 'native')),
            role text NOT NULL CHECK (role IN ('student', 'teacher', 'school_admin', 'district_admin')),
            username text NOT NULL,
            grade text,
            first_name text,
            last_name text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz,
            UNIQUE (account_id, clever_id)
        );
        -- Counts soft-deleted rows too: a deleted account keeps its claim on its username.
        CREATE UNIQUE INDEX users_username_idx ON users (account_id, lower(username));

        CREATE TABLE user_schools (
            user_id bigint NOT NULL,
            school_id bigint NOT NULL,
            account_id bigint NOT NULL,
            source text NOT NULL CHECK (source IN ('clever', 'csv', 'native')),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz,
            PRIMARY KEY (user_id, school_id)
        );
        CREATE INDEX user_schools_account_idx ON user_schools (account_id);

        CREATE TABLE enrollments (
            classroom_id bigint NOT NULL,
            user_id bigint NOT NULL,
            account_id bigint NOT NULL,
            role text NOT NULL CHECK (role IN ('student', 'teacher')),
            source text NOT NULL CHECK (source IN ('clever', 'csv', 'native')),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz,
            PRIMARY KEY (classroom_id, user_id)
        );
        CREATE INDEX enrollments_account_idx ON enrollments (account_id);
        """

    static let runs = """
        CREATE TABLE sync_runs (
            id bigserial PRIMARY KEY,
            account_id bigint NOT NULL REFERENCES accounts (id),
            district_clever_id text NOT NULL,
            job_id text,
            outcome text NOT NULL CHECK (outcome IN
                ('running', 'completed', 'held', 'over_license', 'failed', 'dry_run', 'discarded')),
            dry_run boolean NOT NULL DEFAULT false,
            first_sync boolean NOT NULL DEFAULT false,
            plan_version bigint,
            counts jsonb NOT NULL DEFAULT '{}',
            timings jsonb NOT NULL DEFAULT '{}',
            findings_by_severity jsonb NOT NULL DEFAULT '{}',
            license_overage integer,
            reason text,
            error_code text,
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            decided_at timestamptz
        );
        CREATE INDEX sync_runs_account_idx ON sync_runs (account_id, id DESC);

        CREATE TABLE sync_findings (
            id bigserial PRIMARY KEY,
            run_id bigint NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
            code text NOT NULL,
            severity text NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
            object_kind text,
            object_clever_id text,
            message text NOT NULL,
            count integer NOT NULL DEFAULT 1
        );
        CREATE INDEX sync_findings_run_idx ON sync_findings (run_id, id);

        -- The changed rows of a held run's plan, one JSON object per plan row, until approved or discarded.
        CREATE TABLE sync_plan_rows (
            run_id bigint NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
            kind text NOT NULL,
            payload jsonb NOT NULL
        );
        CREATE INDEX sync_plan_rows_run_idx ON sync_plan_rows (run_id, kind);

        -- One row per school, classroom or user a sync created, updated, restored or soft deleted.
        -- Memberships and enrollments are journaled as the run's counts only: they are the bulk of a large
        -- district, and a row each would double the cost of a first sync.
        CREATE TABLE roster_changes (
            id bigserial PRIMARY KEY,
            run_id bigint NOT NULL REFERENCES sync_runs (id),
            account_id bigint NOT NULL,
            kind text NOT NULL,
            action text NOT NULL CHECK (action IN ('create', 'update', 'restore', 'delete')),
            clever_id text,
            object_id bigint,
            fields text[],
            at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX roster_changes_account_idx ON roster_changes (account_id, id);
        """

    static let lighterWrites = """
        DROP INDEX user_schools_account_idx;
        DROP INDEX enrollments_account_idx;
        ALTER TABLE roster_changes DROP CONSTRAINT roster_changes_run_id_fkey;
        """

    static var versionTriggers: String {
        var sql = """
            CREATE FUNCTION bump_roster_version_new() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE districts SET roster_version = roster_version + 1
                WHERE account_id IN (SELECT DISTINCT account_id FROM changed_rows);
                RETURN NULL;
            END $$;

            """
        // Transition tables allow one event per trigger, hence three triggers per table.
        for table in ["schools", "classrooms", "users", "user_schools", "enrollments"] {
            for event in ["INSERT", "UPDATE", "DELETE"] {
                let transition = event == "DELETE" ? "OLD TABLE" : "NEW TABLE"
                sql += """
                    CREATE TRIGGER \(table)_\(event.lowercased())_version AFTER \(event) ON \(table)
                        REFERENCING \(transition) AS changed_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version_new();

                    """
            }
        }
        return sql
    }
}
