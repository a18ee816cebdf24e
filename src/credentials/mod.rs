//! credentials (to be written).
