/// The SQL of one district's sync: staging tables, the plan, the findings and the apply.
///
/// Staging and plan tables are UNLOGGED tables in the run's own schema (`SyncWorkspace`), so the plan's large
/// statements can use parallel workers. Autovacuum does not know when they are filled, so the sync runs
/// `ANALYZE` itself after loading each one.
///
/// Rows the sync creates get their ids in the plan, from their table's sequence, so every later step (the
/// enrollments of new users and classrooms, the apply's inserts) works with bigint ids and never looks a row
/// up again by Clever id. A plan that is not applied (dry run, preflight, a discarded held run) leaves a gap
/// in the sequences, which nothing relies on.
///
/// Parameters are named (`$account::bigint`, `$district`, ...) and bound by `PostgresConnection.run(_:_:)`, which
/// turns them into positional parameters: values never travel inside the SQL text.
enum SyncSQL {
    /// Set for the session before the first table. The plan's hash joins and aggregates hold a whole district's
    /// enrollments (6 million rows for a million students), and 64 MB made them spill in batches. JIT is off:
    /// it compiled each large plan statement again for a few hundred milliseconds, and these statements are
    /// scans and hash joins that spend their time in I/O and hashing, not in expressions.
    static let sessionSettings = [
        "SET work_mem = '256MB'",
        "SET jit = off",
    ]

    static let stagingTables = [
        "CREATE UNLOGGED TABLE stg_districts (clever_id text NOT NULL)",
        "CREATE UNLOGGED TABLE stg_schools (seq bigint NOT NULL, clever_id text NOT NULL, district text, name text)",
        """
        CREATE UNLOGGED TABLE stg_sections (
            seq bigint NOT NULL, clever_id text NOT NULL, district text, school text, name text,
            students text[] NOT NULL, teachers text[] NOT NULL)
        """,
        """
        CREATE UNLOGGED TABLE stg_users (
            seq bigint NOT NULL, clever_id text NOT NULL, district text, role text, rank integer,
            username text, username_origin text, grade text, schools text[], first_name text, last_name text)
        """,
        """
        CREATE UNLOGGED TABLE f (
            seq bigserial, code text NOT NULL, severity text NOT NULL, object_kind text, object_id text,
            message text NOT NULL)
        """,
    ]

    /// The plan: the changed (and, for counting, unchanged) rows of every kind, except that unchanged
    /// enrollments are only counted (`p_unchanged`). Also what a held run keeps, so its shape must be the
    /// same when `runs approve` rebuilds it from JSON.
    static let planTables = [
        "CREATE UNLOGGED TABLE p_schools (clever_id text, db_id bigint, name text, action text NOT NULL, fields text[])",
        """
        CREATE UNLOGGED TABLE p_classrooms (
            clever_id text, db_id bigint, school text, name text, action text NOT NULL, fields text[])
        """,
        """
        CREATE UNLOGGED TABLE p_users (
            clever_id text, db_id bigint, role text, username text, grade text, first_name text, last_name text,
            schools text[], linked boolean NOT NULL DEFAULT false, action text NOT NULL, fields text[])
        """,
        """
        CREATE UNLOGGED TABLE p_memberships (
            user_clever text, user_db bigint, school_clever text, school_db bigint, action text NOT NULL)
        """,
        """
        CREATE UNLOGGED TABLE p_enrollments (
            section text, user_clever text, role text, classroom_id bigint, user_db bigint, action text NOT NULL)
        """,
    ]

    static let planTableNames = ["p_schools", "p_classrooms", "p_users", "p_memberships", "p_enrollments"]

    /// True when a held plan was kept by a version that let the tables give new rows their ids: its new rows
    /// have none, so this version cannot apply it.
    static let planLacksIDs = """
        SELECT EXISTS (SELECT 1 FROM p_schools WHERE action = 'create' AND db_id IS NULL)
            OR EXISTS (SELECT 1 FROM p_classrooms WHERE action = 'create' AND db_id IS NULL)
            OR EXISTS (SELECT 1 FROM p_users WHERE action = 'create' AND db_id IS NULL)
            OR EXISTS (SELECT 1 FROM p_memberships WHERE action = 'create' AND (user_db IS NULL OR school_db IS NULL))
            OR EXISTS (SELECT 1 FROM p_enrollments
                       WHERE action = 'create' AND (classroom_id IS NULL OR user_db IS NULL))
            AS lacking
        """

    /// Run before `analyzeStaging` when a section came more than once: its copies become one row that lists
    /// the members of all of them, each once, and keeps the first copy's other fields.
    static let mergeRepeatedSections = [
        """
        CREATE UNLOGGED TABLE stg_sections_merged AS
        WITH members AS (
            SELECT DISTINCT s.clever_id AS section, x.user_id, x.role
            FROM stg_sections s
            CROSS JOIN LATERAL (SELECT u, 'student' FROM unnest(s.students) AS u
                                UNION ALL SELECT u, 'teacher' FROM unnest(s.teachers) AS u) AS x (user_id, role)
        ), lists AS (
            SELECT section, array_agg(user_id) FILTER (WHERE role = 'student') AS students,
                array_agg(user_id) FILTER (WHERE role = 'teacher') AS teachers
            FROM members GROUP BY section
        )
        SELECT f.seq, f.clever_id, f.district, f.school, f.name, coalesce(l.students, '{}') AS students,
            coalesce(l.teachers, '{}') AS teachers
        FROM (SELECT DISTINCT ON (clever_id) * FROM stg_sections ORDER BY clever_id, seq) f
        LEFT JOIN lists l ON l.section = f.clever_id
        """,
        "DROP TABLE stg_sections",
        "ALTER TABLE stg_sections_merged RENAME TO stg_sections",
    ]

    static let analyzeStaging = [
        "ANALYZE stg_schools", "ANALYZE stg_sections", "ANALYZE stg_users",
    ]

    /// `$approved`: approved school ids, or NULL for all.
    static let schools = [
        """
        CREATE UNLOGGED TABLE c_schools AS
        SELECT DISTINCT ON (clever_id) clever_id, district, name FROM stg_schools ORDER BY clever_id, seq
        """,
        "ANALYZE c_schools",
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT 'record.other_district', 'error', 'school', clever_id,
            'Clever sent a school of another district (' || district || '); it was left out'
        FROM c_schools WHERE coalesce(district, $district) <> $district ORDER BY clever_id
        """,
        """
        CREATE UNLOGGED TABLE t_schools AS
        SELECT clever_id, coalesce(nullif(name, ''), clever_id) AS name FROM c_schools
        WHERE coalesce(district, $district) = $district AND ($approved::text[] IS NULL OR clever_id = ANY ($approved::text[]))
        """,
        "ANALYZE t_schools",
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT 'school.not_approved', 'info', 'school', clever_id,
            'school is shared by Clever but not approved for this district; its classrooms and the users who '
            || 'belong only to it are not rostered'
        FROM c_schools
        WHERE coalesce(district, $district) = $district AND $approved::text[] IS NOT NULL AND NOT clever_id = ANY ($approved::text[])
        ORDER BY clever_id
        """,
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT 'school.not_shared', 'warning', 'school', s,
            'school is approved for this district but Clever does not share it; ask the district to share it'
        FROM unnest($approved::text[]) AS s
        WHERE NOT EXISTS (SELECT 1 FROM c_schools c WHERE c.clever_id = s AND coalesce(c.district, $district) = $district)
        ORDER BY s
        """,
    ]

    /// `$grades`: allowed grades, or NULL for all.
    static let users = [
        """
        CREATE UNLOGGED TABLE c_users AS
        SELECT DISTINCT ON (clever_id) * FROM stg_users ORDER BY clever_id, rank DESC NULLS LAST, seq
        """,
        "ANALYZE c_users",
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT 'record.other_district', 'error', 'user', clever_id,
            'Clever sent a user of another district (' || district || '); the user was left out'
        FROM c_users WHERE coalesce(district, $district) <> $district ORDER BY clever_id
        """,
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT CASE WHEN u.schools[1] IS NULL THEN 'student.no_school'
                    WHEN s.clever_id IS NULL THEN 'student.school_not_approved'
                    ELSE 'student.grade_not_allowed' END,
            CASE WHEN u.schools[1] IS NULL THEN 'warning' ELSE 'info' END,
            'user', u.clever_id,
            CASE WHEN u.schools[1] IS NULL THEN 'student has no school in Clever; not rostered'
                 WHEN s.clever_id IS NULL THEN 'student''s school ' || u.schools[1]
                    || ' is not an approved, shared school; not rostered'
                 ELSE 'student''s grade (' || coalesce(u.grade, 'none') || ') is not among the district''s '
                    || 'grades; not rostered' END
        FROM c_users u LEFT JOIN t_schools s ON s.clever_id = u.schools[1]
        WHERE u.role = 'student' AND coalesce(u.district, $district) = $district
            AND (s.clever_id IS NULL OR NOT ($grades::text[] IS NULL OR u.grade = ANY ($grades::text[])))
        ORDER BY u.clever_id
        """,
        """
        CREATE UNLOGGED TABLE t_staff AS
        SELECT u.*, ARRAY(SELECT x FROM unnest(u.schools) AS x WHERE x IN (SELECT clever_id FROM t_schools)
                          ORDER BY x) AS approved
        FROM c_users u
        WHERE u.role IN ('teacher', 'school_admin', 'district_admin') AND coalesce(u.district, $district) = $district
        """,
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT 'staff.no_approved_school', 'info', 'user', clever_id,
            replace(role, '_', ' ') || ' belongs to no approved, shared school; not rostered'
        FROM t_staff WHERE role <> 'district_admin' AND approved = '{}' ORDER BY clever_id
        """,
    ]

    /// The users this sync rosters (students of an approved school and grade, staff of an approved school,
    /// district admins), matched with the district's existing users: by Clever id, never a CSV row (rule 11).
    static let matchUsers = """
        CREATE UNLOGGED TABLE m_users AS
        WITH t_users AS (
            SELECT u.clever_id, u.role, u.username AS wanted, u.username_origin, u.grade, u.first_name,
                u.last_name, ARRAY[u.schools[1]] AS schools
            FROM c_users u JOIN t_schools s ON s.clever_id = u.schools[1]
            WHERE u.role = 'student' AND coalesce(u.district, $district) = $district
                AND ($grades::text[] IS NULL OR u.grade = ANY ($grades::text[]))
            UNION ALL
            SELECT clever_id, role, username, username_origin, NULL, first_name, last_name, approved
            FROM t_staff WHERE role = 'district_admin' OR approved <> '{}'
        )
        SELECT t.*, d.id AS db_id, false AS linked
        FROM t_users t LEFT JOIN users d ON d.account_id = $account::bigint AND d.clever_id = t.clever_id AND d.source <> 'csv'
        """

    /// First sync only (rule 7): native users are linked to the Clever user of the same kind (student to
    /// student, staff to staff) who wants their username, ignoring case; the smallest Clever id wins a tie.
    static let linkNativeUsers = """
        UPDATE m_users m SET db_id = l.id, linked = true
        FROM (
            SELECT DISTINCT ON (d.id) d.id, m.clever_id
            FROM users d
            JOIN m_users m ON lower(m.wanted) = lower(d.username) AND m.db_id IS NULL
                AND (m.role = 'student') = (d.role = 'student')
            WHERE d.account_id = $account::bigint AND d.source = 'native' AND d.clever_id IS NULL
            ORDER BY d.id, m.clever_id
        ) l
        WHERE m.clever_id = l.clever_id
        """

    /// Rule 6, set-based: a name held by an account outside this sync's matched users (CSV, native,
    /// soft deleted, or no longer shared) stays with it; otherwise the user who holds it keeps it, then the
    /// smallest Clever id. Everyone else gets their Clever id.
    static let usernames = [
        """
        CREATE UNLOGGED TABLE held_names AS
        SELECT lower(d.username) AS key,
            min(CASE WHEN d.source = 'csv' THEN 'an account added by CSV'
                     WHEN d.deleted_at IS NOT NULL THEN 'a soft-deleted account'
                     WHEN d.source = 'native' THEN 'an account created in the product'
                     ELSE 'an account Clever no longer shares' END) AS holder
        FROM users d
        WHERE d.account_id = $account::bigint
            AND NOT EXISTS (SELECT 1 FROM m_users m WHERE m.db_id = d.id)
            AND EXISTS (SELECT 1 FROM m_users m WHERE lower(m.wanted) = lower(d.username))
        GROUP BY 1
        """,
        "ANALYZE held_names",
        """
        CREATE UNLOGGED TABLE contested_names AS
        SELECT lower(wanted) AS key FROM m_users GROUP BY 1 HAVING count(*) > 1
        """,
        "ANALYZE contested_names",
        // Only the users who want a name that others want too are ranked, in a table of their own: sorting
        // all of a district's users by name cost more than the rest of this step.
        """
        CREATE UNLOGGED TABLE r_names AS
        SELECT clever_id, row_number() OVER w AS rank_in_name, first_value(clever_id) OVER w AS winner,
            first_value(holds) OVER w AS winner_holds
        FROM (
            SELECT m.clever_id, c.key, d.id IS NOT NULL AND lower(d.username) = c.key AS holds
            FROM m_users m JOIN contested_names c ON c.key = lower(m.wanted)
            LEFT JOIN users d ON d.id = m.db_id
        ) x
        WINDOW w AS (PARTITION BY key ORDER BY holds DESC, clever_id)
        """,
        "ANALYZE r_names",
        // No statistics: n_users is only read whole.
        """
        CREATE UNLOGGED TABLE n_users AS
        SELECT m.*, d.username AS db_username, d.role AS db_role, d.grade AS db_grade,
            d.first_name AS db_first_name, d.last_name AS db_last_name, d.deleted_at AS db_deleted_at, h.holder,
            coalesce(r.rank_in_name, 1) AS rank_in_name, coalesce(r.winner, m.clever_id) AS winner,
            coalesce(r.winner_holds, d.id IS NOT NULL AND lower(d.username) = lower(m.wanted)) AS winner_holds
        FROM m_users m
        LEFT JOIN users d ON d.id = m.db_id
        LEFT JOIN held_names h ON h.key = lower(m.wanted)
        LEFT JOIN r_names r ON r.clever_id = m.clever_id
        """,
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT 'username.empty', 'warning', 'user', clever_id,
            'district_username is missing or empty in Clever; the Clever id is the username'
        FROM n_users WHERE username_origin = 'missing' ORDER BY clever_id
        """,
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT 'username.conflict', 'warning', 'user', clever_id,
            CASE WHEN holder IS NOT NULL THEN 'district_username is already held by ' || holder
                 ELSE 'district_username is also wanted by user ' || winner || ', which keeps it ('
                    || CASE WHEN winner_holds THEN 'it already holds it' ELSE 'smallest Clever id' END || ')' END
            || '; this user gets its Clever id as username'
        FROM n_users WHERE holder IS NOT NULL OR rank_in_name > 1 ORDER BY clever_id
        """,
    ]

    /// `$first`: true on the district's first sync, when all its unmatched rows are soft deleted, not only
    /// those that came from Clever.
    static let planUsers = [
        """
        INSERT INTO p_users (clever_id, db_id, role, username, grade, first_name, last_name, schools, linked,
                             action, fields)
        SELECT n.clever_id, coalesce(n.db_id, nextval('users_id_seq')), n.role, x.username, n.grade, n.first_name,
            n.last_name, n.schools, n.linked,
            CASE WHEN n.db_id IS NULL THEN 'create'
                 WHEN n.db_deleted_at IS NOT NULL THEN 'restore'
                 WHEN n.linked OR (n.db_role, n.db_username, n.db_grade, n.db_first_name, n.db_last_name)
                     IS DISTINCT FROM (n.role, x.username, n.grade, n.first_name, n.last_name) THEN 'update'
                 ELSE 'unchanged' END,
            CASE WHEN n.db_id IS NOT NULL THEN array_remove(ARRAY[
                CASE WHEN n.linked THEN 'clever_id' END,
                CASE WHEN n.db_role IS DISTINCT FROM n.role THEN 'role' END,
                CASE WHEN n.db_username IS DISTINCT FROM x.username THEN 'username' END,
                CASE WHEN n.db_grade IS DISTINCT FROM n.grade THEN 'grade' END,
                CASE WHEN (n.db_first_name, n.db_last_name) IS DISTINCT FROM (n.first_name, n.last_name)
                     THEN 'name' END
            ], NULL) END
        FROM n_users n
        CROSS JOIN LATERAL (
            SELECT CASE WHEN n.holder IS NULL AND n.rank_in_name = 1
                        THEN CASE WHEN n.linked THEN n.db_username ELSE n.wanted END
                        ELSE n.clever_id END AS username
        ) x
        """,
        """
        INSERT INTO p_users (clever_id, db_id, role, username, action)
        SELECT d.clever_id, d.id, d.role, d.username, 'delete'
        FROM users d
        WHERE d.account_id = $account::bigint AND d.deleted_at IS NULL AND d.source <> 'csv' AND ($first OR d.source = 'clever')
            AND NOT EXISTS (SELECT 1 FROM m_users m WHERE m.db_id = d.id)
        """,
        "ANALYZE p_users",
    ]

    /// Memberships of the users this sync keeps; those of soft-deleted users stay as they were, so a user
    /// who comes back finds them again. Only changes are kept: an unchanged membership has no row.
    static let planMemberships = [
        """
        INSERT INTO p_memberships (user_clever, user_db, school_clever, school_db, action)
        WITH target AS (
            SELECT p.clever_id AS user_clever, p.db_id AS user_db, s.school AS school_clever, sc.db_id AS school_db
            FROM p_users p
            CROSS JOIN LATERAL unnest(p.schools) AS s (school)
            JOIN p_schools sc ON sc.clever_id = s.school AND sc.action <> 'delete'
            WHERE p.action <> 'delete'
        ), current AS (
            SELECT us.user_id, us.school_id, us.deleted_at
            FROM user_schools us JOIN p_users p ON p.db_id = us.user_id AND p.action <> 'delete'
        )
        SELECT t.user_clever, coalesce(t.user_db, c.user_id), t.school_clever, coalesce(t.school_db, c.school_id),
            CASE WHEN c.user_id IS NULL THEN 'create'
                 WHEN t.user_clever IS NULL THEN 'delete'
                 WHEN c.deleted_at IS NOT NULL THEN 'restore'
                 ELSE 'unchanged' END
        FROM target t FULL JOIN current c ON c.user_id = t.user_db AND c.school_id = t.school_db
        WHERE NOT (t.user_clever IS NULL AND c.deleted_at IS NOT NULL)
            AND NOT (t.user_clever IS NOT NULL AND c.user_id IS NOT NULL AND c.deleted_at IS NULL)
        """,
        "ANALYZE p_memberships",
        """
        UPDATE p_users SET fields = coalesce(fields, '{}') || '{schools}'::text[],
            action = CASE WHEN action = 'unchanged' THEN 'update' ELSE action END
        WHERE action IN ('unchanged', 'update')
            AND db_id IN (SELECT user_db FROM p_memberships WHERE action <> 'unchanged')
        """,
    ]

    static let planSchools = """
        INSERT INTO p_schools (clever_id, db_id, name, action, fields)
        SELECT t.clever_id, coalesce(d.id, nextval('schools_id_seq')), t.name,
            CASE WHEN d.id IS NULL THEN 'create'
                 WHEN d.deleted_at IS NOT NULL THEN 'restore'
                 WHEN d.name IS DISTINCT FROM t.name THEN 'update'
                 ELSE 'unchanged' END,
            CASE WHEN d.name IS DISTINCT FROM t.name AND d.id IS NOT NULL THEN '{name}'::text[] END
        FROM t_schools t LEFT JOIN schools d ON d.account_id = $account::bigint AND d.clever_id = t.clever_id
        UNION ALL
        SELECT d.clever_id, d.id, d.name, 'delete', NULL
        FROM schools d
        WHERE d.account_id = $account::bigint AND d.deleted_at IS NULL AND ($first OR d.source = 'clever')
            AND NOT EXISTS (SELECT 1 FROM t_schools t WHERE t.clever_id = d.clever_id)
        """

    static let classrooms = [
        """
        CREATE UNLOGGED TABLE c_sections AS
        SELECT DISTINCT ON (clever_id) clever_id, district, school, name FROM stg_sections ORDER BY clever_id, seq
        """,
        "ANALYZE c_sections",
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT 'record.other_district', 'error', 'classroom', clever_id,
            'Clever sent a section of another district (' || district || '); it was left out'
        FROM c_sections WHERE coalesce(district, $district) <> $district ORDER BY clever_id
        """,
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT 'section.unknown_school', 'error', 'classroom', s.clever_id,
            CASE WHEN s.school IS NULL THEN 'section names no school; it was left out'
                 ELSE 'section points at school ' || s.school || ', which Clever did not share; it was left out'
            END
        FROM c_sections s
        WHERE coalesce(s.district, $district) = $district
            AND NOT EXISTS (SELECT 1 FROM c_schools c WHERE c.clever_id = s.school AND coalesce(c.district, $district) = $district)
        ORDER BY s.clever_id
        """,
        """
        CREATE UNLOGGED TABLE t_classrooms AS
        SELECT s.clever_id, s.school, coalesce(nullif(s.name, ''), s.clever_id) AS name
        FROM c_sections s JOIN t_schools t ON t.clever_id = s.school
        WHERE coalesce(s.district, $district) = $district
        """,
        "ANALYZE t_classrooms",
        """
        INSERT INTO p_classrooms (clever_id, db_id, school, name, action, fields)
        SELECT t.clever_id, coalesce(d.id, nextval('classrooms_id_seq')), t.school, t.name,
            CASE WHEN d.id IS NULL THEN 'create'
                 WHEN d.deleted_at IS NOT NULL THEN 'restore'
                 WHEN (d.name, ds.clever_id) IS DISTINCT FROM (t.name, t.school) THEN 'update'
                 ELSE 'unchanged' END,
            CASE WHEN d.id IS NOT NULL THEN array_remove(ARRAY[
                CASE WHEN d.name IS DISTINCT FROM t.name THEN 'name' END,
                CASE WHEN ds.clever_id IS DISTINCT FROM t.school THEN 'school' END], NULL) END
        FROM t_classrooms t
        LEFT JOIN classrooms d ON d.account_id = $account::bigint AND d.clever_id = t.clever_id
        LEFT JOIN schools ds ON ds.id = d.school_id
        UNION ALL
        SELECT d.clever_id, d.id, NULL, d.name, 'delete', NULL
        FROM classrooms d
        WHERE d.account_id = $account::bigint AND d.deleted_at IS NULL AND ($first OR d.source = 'clever')
            AND NOT EXISTS (SELECT 1 FROM t_classrooms t WHERE t.clever_id = d.clever_id)
        """,
        "ANALYZE p_classrooms",
    ]

    /// Rules 3, 4 and 14 for enrollments. A member qualifies as a student only in a classroom of the
    /// student's own school, and as a teacher only when rostered as a non-student, so each (classroom,
    /// user) pair qualifies at most once and needs no further dedupe.
    ///
    /// Enrollments are the bulk of a district (six per student), so this step is built around one pass
    /// over the members and one comparison with the stored rows by database ids:
    /// - `k_users` and `k_classrooms` give each rostered Clever id what the members need (role, school and
    ///   database id) in one narrow row, so every member is joined twice, not four times;
    /// - the comparison with `enrollments` first sums up both sides per classroom, then joins row by row, on
    ///   the two bigint ids of the primary key, only in the classrooms where the sums differ;
    /// - `p_enrollments` keeps only the changes; the unchanged rows are counted into `p_unchanged`.
    ///
    /// The members `c_members` come in one of two ways, which give the same rows wherever the findings and
    /// `p_enrollments` read them: on a first sync a view of every member (`membersOfFirstSync`), since every
    /// enrollment is new; on later syncs (`membersOfResync`) a table of only the members who earn a finding
    /// and those of the classrooms whose sums differ, after the sums were taken straight from the join.
    static let enrollmentKeys = [
        """
        CREATE UNLOGGED TABLE k_users AS
        SELECT clever_id, role, schools[1] AS school, db_id FROM p_users WHERE action <> 'delete'
        """,
        "ANALYZE k_users",
        """
        CREATE UNLOGGED TABLE k_classrooms AS
        SELECT clever_id, school, db_id FROM p_classrooms WHERE action <> 'delete'
        """,
        "ANALYZE k_classrooms",
    ]

    /// Every member joined with its classroom and with the user this sync rosters (k_users holds one row per
    /// Clever id, so the left join adds no rows); the findings and the enrollments only filter it. Only the
    /// members who are not rostered are looked up among all the users Clever shared (contacts and left-out
    /// users included), which is twice as many rows to hash.
    static let membersSelect = """
        SELECT c.clever_id AS section, m.user_id, m.role, c.school, c.db_id AS classroom_db,
            k.clever_id IS NOT NULL OR m.user_id IN (SELECT clever_id FROM c_users) AS known,
            k.role AS user_role, k.school AS user_school, k.db_id AS user_db,
            (m.role = 'student' AND k.role = 'student' AND k.school = c.school)
                OR (m.role = 'teacher' AND k.role <> 'student') AS qualifies
        FROM stg_sections s
        JOIN k_classrooms c ON c.clever_id = s.clever_id
        CROSS JOIN LATERAL (SELECT u, 'student' FROM unnest(s.students) AS u
                            UNION ALL SELECT u, 'teacher' FROM unnest(s.teachers) AS u) AS m (user_id, role)
        LEFT JOIN k_users k ON k.clever_id = m.user_id
        """

    /// The members that earn a finding; `m` is a row of `membersSelect`.
    static let memberEarnsFinding = """
        (NOT m.known OR (m.role = 'student' AND m.user_role = 'student' AND m.user_school <> m.school)
            OR (m.role = 'student' AND m.user_role <> 'student') OR (m.role = 'teacher' AND m.user_role = 'student'))
        """

    /// A classroom whose members are exactly its active enrollments needs no row-by-row comparison. Each side
    /// is summed up per classroom as a count and two 64-bit hashes of its (user, role) pairs, combined with
    /// XOR so the order does not matter; only the classrooms where the two differ are compared row by row.
    /// On a resync that is a few classrooms instead of millions of rows. A pair is the bigint `2 × user +
    /// (1 for a student)`; `hashint8extended` folds a bigint's two halves together before hashing, so the
    /// high half is hashed again on its own, or two pairs whose halves XOR alike would hash alike under every
    /// seed. Hashing the pair as text did the same and cost more than the rest of the sums.
    static func pairHash(user: String, role: String, seed: Int) -> String {
        let pair = "(\(user) * 2 + (\(role) = 'student')::int)"
        return "(hashint8extended(\(pair), \(seed)) # hashint8extended(\(pair) >> 32, \(seed + 2)))"
    }

    static let storedDigests = [
        """
        CREATE UNLOGGED TABLE d_stored AS
        SELECT e.classroom_id, count(*) AS n,
            bit_xor(\(pairHash(user: "e.user_id", role: "e.role", seed: 0))) AS h1,
            bit_xor(\(pairHash(user: "e.user_id", role: "e.role", seed: 1))) AS h2
        FROM enrollments e JOIN classrooms k ON k.id = e.classroom_id
        WHERE k.account_id = $account::bigint AND e.deleted_at IS NULL
        GROUP BY e.classroom_id
        """,
        """
        CREATE UNLOGGED TABLE d_changed AS
        SELECT coalesce(t.classroom_id, s.classroom_id) AS classroom_id
        FROM d_target t FULL JOIN d_stored s ON s.classroom_id = t.classroom_id
        WHERE (t.n, t.h1, t.h2) IS DISTINCT FROM (s.n, s.h1, s.h2)
        """,
        "ANALYZE d_changed",
    ]

    /// The findings of the members in `table`, which holds rows of `membersSelect`.
    static func memberFindings(from table: String) -> String {
        """
        INSERT INTO f (code, severity, object_kind, object_id, message)
        SELECT CASE WHEN NOT m.known THEN 'enrollment.unknown_user'
                    WHEN m.role = 'student' AND m.user_role = 'student'
                        THEN 'student.cross_school_enrollment_dropped'
                    ELSE 'enrollment.role_mismatch' END,
            CASE WHEN NOT m.known THEN 'error'
                 WHEN m.role = 'student' AND m.user_role = 'student' THEN 'info'
                 ELSE 'warning' END,
            'user', m.user_id,
            CASE WHEN NOT m.known
                    THEN 'classroom ' || m.section || ' lists a user Clever did not share; enrollment left out'
                 WHEN m.role = 'student' AND m.user_role = 'student'
                    THEN 'enrollment in classroom ' || m.section || ' of school ' || m.school
                        || ' dropped: the student belongs to school ' || m.user_school
                 WHEN m.role = 'student'
                    THEN 'classroom ' || m.section || ' lists this staff member as a student; not enrolled as one'
                 ELSE 'classroom ' || m.section || ' lists this student as a teacher; not enrolled as one' END
        FROM \(table) m
        WHERE \(memberEarnsFinding)
        ORDER BY m.user_id, m.section
        """
    }

    /// On a first sync `c_members` is a view: each reader runs the join again, and the two that read little
    /// (the members that earn a finding, the sums per classroom) do so on parallel workers, which cost less
    /// than writing six million members to a table and reading them back three times.
    static let membersOfFirstSync =
        [
            "CREATE VIEW c_members AS \(membersSelect)",
            "CREATE UNLOGGED TABLE e_members AS SELECT * FROM c_members m WHERE \(memberEarnsFinding)",
            memberFindings(from: "e_members"),
            """
            CREATE UNLOGGED TABLE d_target AS
            SELECT classroom_db AS classroom_id, count(*) AS n,
                bit_xor(\(pairHash(user: "user_db", role: "user_role", seed: 0))) AS h1,
                bit_xor(\(pairHash(user: "user_db", role: "user_role", seed: 1))) AS h2
            FROM c_members WHERE qualifies GROUP BY classroom_db
            """,
        ] + storedDigests

    /// On a resync most classrooms are unchanged, and writing every member to `c_members` cost more than the
    /// join itself. The sums per classroom come straight from the join, which PostgreSQL runs on parallel
    /// workers since it returns one row per classroom; `c_members` then gets only the members that earn a
    /// finding or belong to a classroom whose sums differ, read again from those classrooms only.
    static let membersOfResync =
        [
            """
            CREATE UNLOGGED TABLE d_sections AS
            SELECT m.classroom_db AS classroom_id, count(*) FILTER (WHERE m.qualifies) AS n,
                bit_xor(\(pairHash(user: "m.user_db", role: "m.user_role", seed: 0))) FILTER (WHERE m.qualifies) AS h1,
                bit_xor(\(pairHash(user: "m.user_db", role: "m.user_role", seed: 1))) FILTER (WHERE m.qualifies) AS h2,
                count(*) FILTER (WHERE \(memberEarnsFinding)) AS findings
            FROM (\(membersSelect)) m
            GROUP BY m.classroom_db
            """,
            "CREATE UNLOGGED TABLE d_target AS SELECT classroom_id, n, h1, h2 FROM d_sections WHERE n > 0",
        ] + storedDigests + [
            """
            CREATE UNLOGGED TABLE d_detail AS
            SELECT classroom_id FROM d_sections WHERE findings > 0 UNION SELECT classroom_id FROM d_changed
            """,
            "ANALYZE d_detail",
            """
            CREATE UNLOGGED TABLE c_members AS
            SELECT m.* FROM (\(membersSelect.replacingOccurrences(
                of: "JOIN k_classrooms c ON c.clever_id = s.clever_id\n",
                with: "JOIN k_classrooms c ON c.clever_id = s.clever_id JOIN d_detail dd ON dd.classroom_id = c.db_id\n"
            ))) m
            WHERE m.classroom_db IN (SELECT classroom_id FROM d_changed) OR \(memberEarnsFinding)
            """,
            memberFindings(from: "c_members"),
        ]

    static let enrollmentPlan = [
        """
        INSERT INTO p_enrollments (section, user_clever, role, classroom_id, user_db, action)
        WITH target AS (
            SELECT m.section, m.user_id, m.classroom_db, m.user_db,
                CASE WHEN m.user_role = 'student' THEN 'student' ELSE 'teacher' END AS role
            FROM c_members m
            WHERE m.qualifies AND m.classroom_db IN (SELECT classroom_id FROM d_changed)
        ), current AS (
            SELECT e.classroom_id, e.user_id, e.role, e.deleted_at, e.source
            FROM enrollments e WHERE e.classroom_id IN (SELECT classroom_id FROM d_changed)
        )
        SELECT t.section, t.user_id, t.role, coalesce(c.classroom_id, t.classroom_db), coalesce(c.user_id, t.user_db),
            CASE WHEN c.classroom_id IS NULL THEN 'create'
                 WHEN t.section IS NULL THEN 'delete'
                 WHEN c.deleted_at IS NOT NULL THEN 'restore'
                 ELSE 'update' END
        FROM target t FULL JOIN current c ON c.classroom_id = t.classroom_db AND c.user_id = t.user_db
        WHERE NOT (t.section IS NULL AND (c.deleted_at IS NOT NULL OR NOT ($first OR c.source = 'clever')))
            AND NOT (t.section IS NOT NULL AND c.classroom_id IS NOT NULL AND c.deleted_at IS NULL
                     AND c.role = t.role)
        """,
        """
        UPDATE p_enrollments p SET section = c.clever_id, user_clever = u.clever_id
        FROM classrooms c, users u
        WHERE p.action = 'delete' AND c.id = p.classroom_id AND u.id = p.user_db
        """,
        "ANALYZE p_enrollments",
        "CREATE UNLOGGED TABLE p_unchanged (kind text NOT NULL, n bigint NOT NULL)",
        """
        INSERT INTO p_unchanged (kind, n)
        SELECT 'enrollments', (SELECT coalesce(sum(n), 0) FROM d_target)
            - (SELECT count(*) FROM p_enrollments WHERE action IN ('create', 'restore', 'update'))
        """,
    ]

    /// Rows per kind and action, students and staff told apart by role.
    static let counts = """
        SELECT 'schools' AS kind, action, count(*) AS n FROM p_schools GROUP BY action
        UNION ALL SELECT 'classrooms', action, count(*) FROM p_classrooms GROUP BY action
        UNION ALL SELECT CASE WHEN role = 'student' THEN 'students' ELSE 'staff' END, action, count(*)
            FROM p_users GROUP BY 1, 2
        UNION ALL SELECT 'enrollments', action, count(*) FROM p_enrollments GROUP BY action
        UNION ALL SELECT kind, 'unchanged', n FROM p_unchanged WHERE n > 0
        """

    /// Schools whose rostered students number fewer than `$minimum` (rule 10).
    static let smallSchools = """
        SELECT s.clever_id, count(u.clever_id) AS students
        FROM t_schools s LEFT JOIN k_users u ON u.role = 'student' AND u.school = s.clever_id
        GROUP BY s.clever_id HAVING count(u.clever_id) < $minimum::int ORDER BY s.clever_id
        """

    static let addFinding = """
        INSERT INTO f (code, severity, object_kind, object_id, message) VALUES ($1, $2, $3, $4, $5)
        """

    // MARK: - Apply (one transaction)

    /// The inserts come in the order of the index they fill most: a first sync inserts millions of rows, and
    /// in key order each btree grows at its right edge, where inserting in the hash join's order touched a
    /// random leaf page per row, far more pages than shared_buffers holds, each written again to the WAL.
    static let apply = [
        """
        INSERT INTO schools (id, account_id, clever_id, source, name)
        SELECT db_id, $account::bigint, clever_id, 'clever', name FROM p_schools WHERE action = 'create'
        """,
        """
        UPDATE schools d SET name = p.name, source = 'clever', deleted_at = NULL, updated_at = now()
        FROM p_schools p WHERE d.id = p.db_id AND p.action IN ('update', 'restore')
        """,
        """
        UPDATE schools d SET deleted_at = now(), updated_at = now()
        FROM p_schools p WHERE d.id = p.db_id AND p.action = 'delete'
        """,
        """
        INSERT INTO classrooms (id, account_id, school_id, clever_id, source, name)
        SELECT p.db_id, $account::bigint, s.id, p.clever_id, 'clever', p.name
        FROM p_classrooms p JOIN schools s ON s.account_id = $account::bigint AND s.clever_id = p.school
        WHERE p.action = 'create'
        ORDER BY p.clever_id
        """,
        """
        UPDATE classrooms d SET name = p.name, school_id = s.id, source = 'clever', deleted_at = NULL,
            updated_at = now()
        FROM p_classrooms p JOIN schools s ON s.account_id = $account::bigint AND s.clever_id = p.school
        WHERE d.id = p.db_id AND p.action IN ('update', 'restore')
        """,
        """
        UPDATE classrooms d SET deleted_at = now(), updated_at = now()
        FROM p_classrooms p WHERE d.id = p.db_id AND p.action = 'delete'
        """,
        """
        UPDATE users d SET deleted_at = now(), updated_at = now()
        FROM p_users p WHERE d.id = p.db_id AND p.action = 'delete'
        """,
        // Two steps for renamed users: two users may swap names, and the unique index is checked row by
        // row, so every changing name is first parked on a value no real username can take.
        """
        UPDATE users d SET username = chr(1) || d.id::text
        FROM p_users p WHERE d.id = p.db_id AND p.action IN ('update', 'restore') AND d.username <> p.username
        """,
        """
        UPDATE users d SET clever_id = p.clever_id, source = 'clever', role = p.role, username = p.username,
            grade = p.grade, first_name = p.first_name, last_name = p.last_name, deleted_at = NULL,
            updated_at = now()
        FROM p_users p WHERE d.id = p.db_id AND p.action IN ('update', 'restore')
        """,
        """
        INSERT INTO users (id, account_id, clever_id, source, role, username, grade, first_name, last_name)
        SELECT db_id, $account::bigint, clever_id, 'clever', role, username, grade, first_name, last_name
        FROM p_users WHERE action = 'create'
        ORDER BY clever_id
        """,
        """
        INSERT INTO user_schools (user_id, school_id, account_id, source)
        SELECT user_db, school_db, $account::bigint, 'clever' FROM p_memberships WHERE action = 'create'
        ORDER BY user_db, school_db
        """,
        """
        UPDATE user_schools d
        SET deleted_at = CASE WHEN p.action = 'delete' THEN now() END, updated_at = now()
        FROM p_memberships p
        WHERE d.user_id = p.user_db AND d.school_id = p.school_db AND p.action IN ('restore', 'delete')
        """,
        """
        INSERT INTO enrollments (classroom_id, user_id, account_id, role, source)
        SELECT classroom_id, user_db, $account::bigint, role, 'clever' FROM p_enrollments WHERE action = 'create'
        ORDER BY classroom_id, user_db
        """,
        """
        UPDATE enrollments d
        SET role = coalesce(p.role, d.role), deleted_at = CASE WHEN p.action = 'delete' THEN now() END,
            updated_at = now()
        FROM p_enrollments p
        WHERE d.classroom_id = p.classroom_id AND d.user_id = p.user_db AND p.action IN ('update', 'restore', 'delete')
        """,
    ]

    static let journal = """
        INSERT INTO roster_changes (run_id, account_id, kind, action, clever_id, object_id, fields)
        SELECT $run::bigint, $account::bigint, 'school', action, clever_id, db_id, fields FROM p_schools WHERE action <> 'unchanged'
        UNION ALL
        SELECT $run::bigint, $account::bigint, 'classroom', action, clever_id, db_id, fields FROM p_classrooms WHERE action <> 'unchanged'
        UNION ALL
        SELECT $run::bigint, $account::bigint, 'user', action, clever_id, db_id, fields FROM p_users WHERE action <> 'unchanged'
        """

    /// `$cap` findings per code at most. Stores findings most severe first, then by code and object.
    static let storeFindings = [
        """
        INSERT INTO sync_findings (run_id, code, severity, object_kind, object_clever_id, message)
        SELECT $run::bigint, code, severity, object_kind, object_id, message
        FROM (SELECT f.*, row_number() OVER (PARTITION BY code ORDER BY seq) AS rn FROM f) x
        WHERE rn <= $cap::int
        ORDER BY CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, code, seq
        """,
        """
        INSERT INTO sync_findings (run_id, code, severity, object_kind, object_clever_id, message, count)
        SELECT $run::bigint, code, min(severity), NULL, NULL,
            count(*) || ' findings of this code in all; only the first ' || $cap::int || ' are stored', count(*)
        FROM f GROUP BY code HAVING count(*) > $cap::int
        """,
    ]
}
