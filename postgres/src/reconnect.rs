//! Fleet reconnect in PostgreSQL: accepted MFA steps, hosts' journal positions and
//! replay incidents (migration 12).

use super::*;

impl ReconnectStore for PgStore {}
