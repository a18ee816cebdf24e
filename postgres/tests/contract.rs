//! The backend contract suite (`pam_iam::store::contract`) on a real PostgreSQL 15,
//! one throwaway server for this binary, a fresh database per case.

use pam_iam::store::contract::Fixture;

fn pg_fixture() -> Option<Fixture> {
    let (_, store) = pam_iam_postgres::testing::fresh_store()?;
    Some(Fixture {
        store,
        keep: Box::new(()),
    })
}

pam_iam::store_contract_suite!(pg_fixture);
