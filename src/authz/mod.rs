//! authz (to be written).
