//! userdb (to be written).
