//! The whole binding to libpam: the handful of C types, constants and functions the
//! module uses (from `security/_pam_types.h`, `pam_modules.h`, `pam_ext.h`), and the six
//! `pam_sm_*` symbols libpam looks up. Nothing here decides anything: each export hands
//! its raw arguments to `ffi::serve`, which contains panics before touching them.

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};

/// libpam's opaque handle (`pam_handle_t`).
#[repr(C)]
pub struct PamHandle {
    _opaque: [u8; 0],
}

// Return codes (`_pam_types.h`).
/// Success.
pub const PAM_SUCCESS: c_int = 0;
/// The module is misconfigured.
pub const PAM_SERVICE_ERR: c_int = 3;
/// Any other internal error.
pub const PAM_SYSTEM_ERR: c_int = 4;
/// Access denied by policy.
pub const PAM_PERM_DENIED: c_int = 6;
/// Wrong credential.
pub const PAM_AUTH_ERR: c_int = 7;
/// No usable credential.
pub const PAM_CRED_INSUFFICIENT: c_int = 8;
/// The authentication data cannot be read.
pub const PAM_AUTHINFO_UNAVAIL: c_int = 9;
/// Not a user of this module.
pub const PAM_USER_UNKNOWN: c_int = 10;
/// The password must be changed now.
pub const PAM_NEW_AUTHTOK_REQD: c_int = 12;
/// The account expired.
pub const PAM_ACCT_EXPIRED: c_int = 13;
/// The session could not be recorded.
pub const PAM_SESSION_ERR: c_int = 14;
/// The application could not ask the user.
pub const PAM_CONV_ERR: c_int = 19;
/// The new password is refused.
pub const PAM_AUTHTOK_ERR: c_int = 20;
/// The current password is wrong.
pub const PAM_AUTHTOK_RECOVERY_ERR: c_int = 21;
/// This module has no say.
pub const PAM_IGNORE: c_int = 25;
/// libpam passed arguments it never passes (null handle, negative count).
pub const PAM_ABORT: c_int = 26;

// Item types for `pam_get_item` / `pam_set_item`.
/// The service name.
pub const PAM_SERVICE: c_int = 1;
/// The terminal.
pub const PAM_TTY: c_int = 3;
/// The remote host.
pub const PAM_RHOST: c_int = 4;
/// The application's conversation.
pub const PAM_CONV: c_int = 5;
/// The password, for stacked modules.
pub const PAM_AUTHTOK: c_int = 6;
/// The old password, during a change.
pub const PAM_OLDAUTHTOK: c_int = 7;

// Flags passed to the hooks.
/// Print nothing to the user.
pub const PAM_SILENT: c_int = 0x8000;
/// chauthtok: only expired passwords are to be changed.
pub const PAM_CHANGE_EXPIRED_AUTHTOK: c_int = 0x0020;
/// chauthtok: the first of its two passes.
pub const PAM_PRELIM_CHECK: c_int = 0x4000;

// Conversation message styles.
/// A prompt whose answer is not shown.
pub const PAM_PROMPT_ECHO_OFF: c_int = 1;
/// A prompt whose answer is shown.
pub const PAM_PROMPT_ECHO_ON: c_int = 2;
/// An error message.
pub const PAM_ERROR_MSG: c_int = 3;
/// An informational message.
pub const PAM_TEXT_INFO: c_int = 4;

/// One conversation message (`struct pam_message`).
#[repr(C)]
pub struct PamMessage {
    /// One of the `PAM_PROMPT_*` / `PAM_*_MSG` styles.
    pub msg_style: c_int,
    /// NUL-terminated text.
    pub msg: *const c_char,
}

/// One conversation answer (`struct pam_response`), allocated by the application with
/// `malloc`; the module frees it.
#[repr(C)]
pub struct PamResponse {
    /// The malloc'd NUL-terminated answer, or NULL.
    pub resp: *mut c_char,
    /// Unused (always 0).
    pub resp_retcode: c_int,
}

/// The application's conversation (`struct pam_conv`).
#[repr(C)]
pub struct PamConv {
    /// The function to call, or NULL.
    pub conv: Option<
        unsafe extern "C" fn(
            num_msg: c_int,
            msg: *mut *const PamMessage,
            resp: *mut *mut PamResponse,
            appdata_ptr: *mut c_void,
        ) -> c_int,
    >,
    /// The application's own pointer, given back to `conv`.
    pub appdata_ptr: *mut c_void,
}

/// The cleanup libpam calls for module data, once, at `pam_end` (or on replacement).
pub type DataCleanup =
    unsafe extern "C" fn(pamh: *mut PamHandle, data: *mut c_void, error_status: c_int);

#[link(name = "pam")]
unsafe extern "C" {
    pub fn pam_get_item(
        pamh: *const PamHandle,
        item_type: c_int,
        item: *mut *const c_void,
    ) -> c_int;
    pub fn pam_set_item(pamh: *mut PamHandle, item_type: c_int, item: *const c_void) -> c_int;
    pub fn pam_get_user(
        pamh: *mut PamHandle,
        user: *mut *const c_char,
        prompt: *const c_char,
    ) -> c_int;
    pub fn pam_get_data(
        pamh: *const PamHandle,
        module_data_name: *const c_char,
        data: *mut *const c_void,
    ) -> c_int;
    pub fn pam_set_data(
        pamh: *mut PamHandle,
        module_data_name: *const c_char,
        data: *mut c_void,
        cleanup: Option<DataCleanup>,
    ) -> c_int;
    pub fn pam_syslog(pamh: *const PamHandle, priority: c_int, fmt: *const c_char, ...);
    pub fn pam_fail_delay(pamh: *mut PamHandle, usec: c_uint) -> c_int;
    pub fn pam_getenv(pamh: *mut PamHandle, name: *const c_char) -> *const c_char;
    pub fn pam_putenv(pamh: *mut PamHandle, name_value: *const c_char) -> c_int;
}

/// Which service function libpam called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// pam_sm_authenticate
    Authenticate,
    /// pam_sm_setcred
    Setcred,
    /// pam_sm_acct_mgmt
    AcctMgmt,
    /// pam_sm_open_session
    OpenSession,
    /// pam_sm_close_session
    CloseSession,
    /// pam_sm_chauthtok
    Chauthtok,
}

/// The module arguments as strings; `None` for what libpam never sends (a negative
/// count, a null array or entry).
///
/// # Safety
/// `argv` is null or points to `argc` pointers, each null or a NUL-terminated string
/// valid for the call.
pub unsafe fn args(argc: c_int, argv: *const *const c_char) -> Option<Vec<String>> {
    let n = usize::try_from(argc).ok()?;
    if n == 0 {
        return Some(Vec::new());
    }
    if argv.is_null() {
        return None;
    }
    // SAFETY: non-null and, per the caller's contract, `argc` entries long.
    let ptrs = unsafe { std::slice::from_raw_parts(argv, n) };
    ptrs.iter()
        .map(|&p| {
            // SAFETY: checked non-null; NUL-terminated for the duration of the call.
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        })
        .collect()
}

macro_rules! exports {
    ($($name:ident => $which:ident),* $(,)?) => {$(
        /// A service function libpam looks up by name.
        ///
        /// # Safety
        /// Called by libpam with its handle and the module's arguments.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            pamh: *mut PamHandle,
            flags: c_int,
            argc: c_int,
            argv: *const *const c_char,
        ) -> c_int {
            // SAFETY: libpam's contract for service functions, which `serve` relies on.
            unsafe { super::ffi::serve(pamh, flags, argc, argv, Export::$which) }
        }
    )*};
}

exports! {
    pam_sm_authenticate => Authenticate,
    pam_sm_setcred => Setcred,
    pam_sm_acct_mgmt => AcctMgmt,
    pam_sm_open_session => OpenSession,
    pam_sm_close_session => CloseSession,
    pam_sm_chauthtok => Chauthtok,
}
