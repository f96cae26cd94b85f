extension Migrations {
    /// Onboarding: a district's connection request, the sign-in providers it allows, and what a CSV import
    /// knows about an admin beyond the `users` row.
    ///
    /// The request is kept in a table of its own rather than written into `districts` straight away: the
    /// district's settings only take the requested schools and grades at activation, after a preflight
    /// the district agreed with, and the request stays as the record of what was asked for.
    static let onboarding = """
        CREATE TABLE onboarding_requests (
            account_id bigint PRIMARY KEY REFERENCES districts (account_id),
            -- The district's Typing Agent username, as the district gave it; nil when not given.
            account_username text,
            username_domain text,
            -- School names as the district writes them; matched to Clever's shared schools at activation.
            school_names text[] NOT NULL CHECK (cardinality(school_names) > 0),
            -- Canonical grade names, NULL for all grades.
            grades text[],
            licenses integer NOT NULL CHECK (licenses >= 0),
            start_date date NOT NULL,
            requested_at timestamptz NOT NULL DEFAULT now(),
            activated_at timestamptz
        );

        -- Sign-in providers other than Clever that a district allows; no row means none. Clever sign-in
        -- itself stays `districts.clever_sso`.
        CREATE TABLE district_sign_in (
            account_id bigint PRIMARY KEY REFERENCES districts (account_id),
            providers text[] NOT NULL DEFAULT '{}'
                CHECK (providers <@ ARRAY['google', 'microsoft', 'classlink', 'password']::text[]),
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        -- One row per user an admin CSV created; the email is kept for contact only and never used to
        -- sign in.
        CREATE TABLE csv_admins (
            user_id bigint PRIMARY KEY REFERENCES users (id),
            account_id bigint NOT NULL REFERENCES accounts (id),
            email text,
            imported_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX csv_admins_account_idx ON csv_admins (account_id);
        """
}
