//! pam (to be written).
