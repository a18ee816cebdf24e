//! The backend contract suite: every behaviour a store must have, written once against
//! `&dyn Store`. A backend runs all of it with one line,
//! `crate::store::contract::store_contract_suite!(factory);`, where `factory()` returns a
//! fresh, empty [`Fixture`] (SQLite: `sqlite/tests.rs`).

// Test code (compiled outside `cfg(test)` only for other crates' backend tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::credentials::second_factor::{Admission, Proof, Settled, Throttle};

mod audit_tx;
mod deltas;
mod fleet;
mod identity;
mod reconnect;
mod sessions;
pub use audit_tx::*;
pub use deltas::*;
pub use fleet::*;
pub use identity::*;
pub use reconnect::*;
pub use sessions::*;

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

/// A fresh, empty store and whatever keeps it alive (a temporary directory, a server).
pub struct Fixture {
    /// The store under test.
    pub store: Box<dyn Store>,
    /// Dropped after the store: removes what the store lived in.
    #[allow(dead_code)]
    pub keep: Box<dyn std::any::Any>,
    /// A fault in the database itself: from `refuse_audit(true)` on, every insert into
    /// the audit table fails there (a trigger raising an error, as a table that cannot
    /// be written fails), until `refuse_audit(false)`. For the cases proving that a
    /// decision and its audit row commit together.
    pub refuse_audit: Box<dyn Fn(bool)>,
}

/// What a factory returns: a [`Fixture`], or `Option<Fixture>` for a backend that may be
/// missing on a developer's machine (a server it cannot start).
pub trait IntoFixture {
    /// The fixture, if there is one.
    fn into_fixture(self) -> Option<Fixture>;
}

impl IntoFixture for Fixture {
    fn into_fixture(self) -> Option<Fixture> {
        Some(self)
    }
}

impl IntoFixture for Option<Fixture> {
    fn into_fixture(self) -> Option<Fixture> {
        self
    }
}

/// A user named `name` at path `/`.
pub fn user(s: &dyn Store, name: &str) -> User {
    s.create_user(
        &NewUser {
            name: name.into(),
            path: "/".into(),
            ..Default::default()
        },
        100,
    )
    .unwrap()
}

/// One `#[test]` per contract case, each on a fresh store from `$make()` (a
/// [`Fixture`]): `store_contract_suite!(my_backend_fixture);` in a backend's tests
/// (another crate's with the `contract` feature: `pam_iam::store_contract_suite!`).
#[macro_export]
#[doc(hidden)]
macro_rules! store_contract_suite {
    ($make:path) => {
        $crate::store_contract_suite!(@cases $make;
            user_lifecycle_and_conflicts,
            password_history_and_lockout,
            mfa_watermark_and_recovery_codes,
            policies_versions_attachments,
            roles_tags_hosts_audit_sessions_ids,
            access_keys_limit,
            a_locked_user_is_refused_and_counted_at_admission_and_at_success,
            ids_are_bound_to_entities_never_reused_and_skip_local_ones,
            session_policy_round_trip_and_mfa_update,
            a_session_for_a_replaced_role_or_user_is_refused,
            min_duration_setting_is_bounded,
            atomically_is_all_or_nothing,
            root_keys_and_sealed_secrets,
            audit_batch_appends_in_order_and_notes_latest_key_uses,
            mfa_seeds_are_sealed_at_rest,
            host_credentials_round_trip,
            replica_export_import_and_store_version,
            api_sessions_keep_their_sealed_secret,
            session_context_round_trip_in_the_session_transaction,
            host_sessions_ride_their_hosts_replica_only,
            expired_host_sessions_are_pruned_with_their_policies,
            spent_steps_journal_positions_and_incidents_round_trip,
            an_accepted_code_is_recorded_as_spent_by_the_settle,
            a_journal_merges_once_in_order_and_reveals_a_replay,
            a_recovery_code_spent_offline_is_spent_fleet_wide_and_a_second_use_is_an_incident,
            a_login_moves_no_store_version,
            replica_carries_enabled_mfa_devices_without_seeds,
            deltas_rebuild_exactly_the_full_snapshot,
            a_host_behind_the_change_log_gets_a_full_snapshot
        );
        $crate::store_contract_suite!(@fixture_cases $make;
            a_settle_whose_audit_row_fails_spends_nothing_and_a_settle_that_commits_leaves_one_row,
            a_failure_whose_audit_row_fails_counts_nothing
        );
    };
    (@fixture_cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                if let Some(fixture) = $crate::store::contract::IntoFixture::into_fixture($make()) {
                    $crate::store::contract::$case(&fixture);
                }
            }
        )*
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                // `None`: the backend is not available here (the factory said why).
                if let Some(fixture) = $crate::store::contract::IntoFixture::into_fixture($make()) {
                    $crate::store::contract::$case(&*fixture.store);
                }
            }
        )*
    };
}
pub use crate::store_contract_suite;
