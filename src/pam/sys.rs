//! The whole binding to libpam: the handful of C types, constants and functions the
//! module uses (from `security/_pam_types.h`, `pam_modules.h`, `pam_ext.h`), and the six
//! `pam_sm_*` symbols libpam looks up. Nothing here decides anything: each export
//! checks its arguments and hands them to `ffi::entry`, which contains panics.

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};

/// libpam's opaque handle (`pam_handle_t`).
#[repr(C)]
pub struct PamHandle {
    _opaque: [u8; 0],
}

/// Return codes (`_pam_types.h`).
pub const PAM_SUCCESS: c_int = 0;
pub const PAM_SERVICE_ERR: c_int = 3;
pub const PAM_SYSTEM_ERR: c_int = 4;
pub const PAM_PERM_DENIED: c_int = 6;
pub const PAM_AUTH_ERR: c_int = 7;
pub const PAM_CRED_INSUFFICIENT: c_int = 8;
pub const PAM_AUTHINFO_UNAVAIL: c_int = 9;
pub const PAM_USER_UNKNOWN: c_int = 10;
pub const PAM_NEW_AUTHTOK_REQD: c_int = 12;
pub const PAM_ACCT_EXPIRED: c_int = 13;
pub const PAM_SESSION_ERR: c_int = 14;
pub const PAM_CONV_ERR: c_int = 19;
pub const PAM_AUTHTOK_ERR: c_int = 20;
pub const PAM_AUTHTOK_RECOVERY_ERR: c_int = 21;
pub const PAM_ABORT: c_int = 26;
pub const PAM_IGNORE: c_int = 25;

/// Item types for `pam_get_item` / `pam_set_item`.
pub const PAM_SERVICE: c_int = 1;
pub const PAM_TTY: c_int = 3;
pub const PAM_RHOST: c_int = 4;
pub const PAM_CONV: c_int = 5;
pub const PAM_AUTHTOK: c_int = 6;
pub const PAM_OLDAUTHTOK: c_int = 7;

/// Flags passed to the hooks.
pub const PAM_SILENT: c_int = 0x8000;
pub const PAM_CHANGE_EXPIRED_AUTHTOK: c_int = 0x0020;
pub const PAM_PRELIM_CHECK: c_int = 0x4000;

/// Conversation message styles.
pub const PAM_PROMPT_ECHO_OFF: c_int = 1;
pub const PAM_PROMPT_ECHO_ON: c_int = 2;
pub const PAM_ERROR_MSG: c_int = 3;
pub const PAM_TEXT_INFO: c_int = 4;

/// One conversation message (`struct pam_message`).
#[repr(C)]
pub struct PamMessage {
    pub msg_style: c_int,
    pub msg: *const c_char,
}

/// One conversation answer (`struct pam_response`), allocated by the application with
/// `malloc`; the module frees it.
#[repr(C)]
pub struct PamResponse {
    pub resp: *mut c_char,
    pub resp_retcode: c_int,
}

/// The application's conversation (`struct pam_conv`).
#[repr(C)]
pub struct PamConv {
    pub conv: Option<
        unsafe extern "C" fn(
            num_msg: c_int,
            msg: *mut *const PamMessage,
            resp: *mut *mut PamResponse,
            appdata_ptr: *mut c_void,
        ) -> c_int,
    >,
    pub appdata_ptr: *mut c_void,
}

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
    pub fn pam_syslog(pamh: *const PamHandle, priority: c_int, fmt: *const c_char, ...);
    pub fn pam_fail_delay(pamh: *mut PamHandle, usec: c_uint) -> c_int;
    pub fn pam_getenv(pamh: *mut PamHandle, name: *const c_char) -> *const c_char;
    pub fn pam_putenv(pamh: *mut PamHandle, name_value: *const c_char) -> c_int;
}

/// Which service function libpam called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Authenticate,
    Setcred,
    AcctMgmt,
    OpenSession,
    CloseSession,
    Chauthtok,
}

/// Check what libpam passed and run the hook: a null handle, a negative count or a null
/// argument is refused with `PAM_ABORT` (as libpam itself never sends them).
///
/// # Safety
/// `pamh` is null or the live handle of this call; `argv` is null or points to `argc`
/// pointers, each null or a NUL-terminated string valid for the call.
unsafe fn export(
    pamh: *mut PamHandle,
    flags: c_int,
    argc: c_int,
    argv: *const *const c_char,
    which: Export,
) -> c_int {
    // SAFETY: null or the live handle of this call (the caller's contract).
    let Some(pamh) = (unsafe { pamh.as_mut() }) else {
        return PAM_ABORT;
    };
    let Ok(n) = usize::try_from(argc) else {
        return PAM_ABORT;
    };
    let mut args = Vec::with_capacity(n);
    if n > 0 {
        if argv.is_null() {
            return PAM_ABORT;
        }
        // SAFETY: non-null and, per libpam, `argc` entries long.
        for &p in unsafe { std::slice::from_raw_parts(argv, n) } {
            if p.is_null() {
                return PAM_ABORT;
            }
            // SAFETY: non-null and NUL-terminated for the duration of the call.
            args.push(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned());
        }
    }
    super::ffi::entry(pamh, args, flags, which)
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
            // SAFETY: libpam's contract for service functions (see `export`).
            unsafe { export(pamh, flags, argc, argv, Export::$which) }
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
