//! The only file that touches libpam and pam-bindings.
//!
//! Each hook: catch every panic (logged to syslog, never printed on the user's
//! terminal), adapt the handle to `PamHandler`, call `dispatch`, map `PamCode` to
//! libpam's number. No threads, no globals that outlive a call.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::sync::Mutex;

use pam::constants::{
    PAM_ERROR_MSG, PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON, PAM_SILENT, PAM_TEXT_INFO, PamFlag,
    PamResultCode,
};
use pam::conv::Conv;
use pam::items::{AuthTok, OldAuthTok, RHost, Service, Tty};
use pam::module::{PamHandle, PamHooks};
use zeroize::Zeroizing;

use super::handler::{Echo, PamCode, PamHandler, Priority, Secret};
use super::password::Pass;
use super::{Hook, KeptStore, dispatch};

// Linux-PAM constants pam-bindings does not export (security/_pam_types.h).
const PAM_CHANGE_EXPIRED_AUTHTOK: PamFlag = 0x0020;
const PAM_PRELIM_CHECK: PamFlag = 0x4000;
const PAM_AUTHTOK: c_int = 6;
const PAM_OLDAUTHTOK: c_int = 7;

#[link(name = "pam")]
unsafe extern "C" {
    fn pam_syslog(pamh: *const PamHandle, priority: c_int, fmt: *const c_char, ...);
    fn pam_fail_delay(pamh: *mut PamHandle, usec: c_uint) -> c_int;
    fn pam_getenv(pamh: *mut PamHandle, name: *const c_char) -> *const c_char;
    fn pam_putenv(pamh: *mut PamHandle, name_value: *const c_char) -> c_int;
    fn pam_set_item(pamh: *mut PamHandle, item_type: c_int, item: *const c_void) -> c_int;
    fn pam_get_user(pamh: *mut PamHandle, user: *mut *const c_char, prompt: *const c_char)
    -> c_int;
}

struct PamIam;
pam::pam_hooks!(PamIam);

impl PamHooks for PamIam {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        entry(pamh, &args, flags, Hook::Authenticate)
    }
    fn sm_setcred(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        entry(pamh, &args, flags, Hook::Setcred)
    }
    fn acct_mgmt(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        entry(pamh, &args, flags, Hook::AcctMgmt)
    }
    fn sm_open_session(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        entry(pamh, &args, flags, Hook::OpenSession)
    }
    fn sm_close_session(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        entry(pamh, &args, flags, Hook::CloseSession)
    }
    fn sm_chauthtok(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        let pass = if flags & PAM_PRELIM_CHECK != 0 {
            Pass::Prelim
        } else {
            Pass::Update
        };
        let expired = flags & PAM_CHANGE_EXPIRED_AUTHTOK != 0;
        entry(pamh, &args, flags, Hook::Chauthtok { pass, expired })
    }
}

/// The last panic message, recorded by our panic hook while one of our calls runs.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Run one hook with panics contained: while it runs, the process's panic hook only
/// records the message (so nothing reaches the user's terminal); the host's hook is
/// restored afterwards, so no code of ours stays registered after dlclose.
fn entry(pamh: &mut PamHandle, args: &[&CStr], flags: PamFlag, hook: Hook) -> PamResultCode {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut p) = PANIC.lock() {
            *p = Some(info.to_string());
        }
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut h = Handle {
            pamh: &mut *pamh,
            silent: flags & PAM_SILENT != 0,
            new_secrets: matches!(hook, Hook::Chauthtok { .. }),
        };
        dispatch(&mut h, hook, &args)
    }));
    std::panic::set_hook(previous);
    match result {
        Ok(code) => to_pam(code),
        Err(payload) => {
            let msg = PANIC
                .lock()
                .ok()
                .and_then(|mut p| p.take())
                .unwrap_or_default();
            // Dropping a panic payload can itself panic; forget it instead.
            std::mem::forget(payload);
            let mut h = Handle {
                pamh,
                silent: true,
                new_secrets: false,
            };
            h.syslog(Priority::Err, &format!("internal error, denying: {msg}"));
            match hook {
                Hook::Setcred => PamResultCode::PAM_SUCCESS,
                _ => PamResultCode::PAM_SYSTEM_ERR,
            }
        }
    }
}

/// The one place `PamCode` meets libpam's numbers.
fn to_pam(code: PamCode) -> PamResultCode {
    match code {
        PamCode::Success => PamResultCode::PAM_SUCCESS,
        PamCode::AuthErr => PamResultCode::PAM_AUTH_ERR,
        PamCode::UserUnknown => PamResultCode::PAM_USER_UNKNOWN,
        PamCode::PermDenied => PamResultCode::PAM_PERM_DENIED,
        PamCode::NewAuthtokReqd => PamResultCode::PAM_NEW_AUTHTOK_REQD,
        PamCode::AcctExpired => PamResultCode::PAM_ACCT_EXPIRED,
        PamCode::AuthinfoUnavail => PamResultCode::PAM_AUTHINFO_UNAVAIL,
        PamCode::SystemErr => PamResultCode::PAM_SYSTEM_ERR,
        PamCode::CredInsufficient => PamResultCode::PAM_CRED_INSUFFICIENT,
        PamCode::ConvErr => PamResultCode::PAM_CONV_ERR,
        PamCode::AuthtokErr => PamResultCode::PAM_AUTHTOK_ERR,
        PamCode::AuthtokRecoveryErr => PamResultCode::PAM_AUTHTOK_RECOVERY_ERR,
        PamCode::SessionErr => PamResultCode::PAM_SESSION_ERR,
        PamCode::Ignore => PamResultCode::PAM_IGNORE,
        PamCode::ServiceErr => PamResultCode::PAM_SERVICE_ERR,
    }
}

fn from_pam(code: PamResultCode) -> PamCode {
    match code {
        PamResultCode::PAM_CONV_ERR => PamCode::ConvErr,
        PamResultCode::PAM_USER_UNKNOWN => PamCode::UserUnknown,
        PamResultCode::PAM_AUTH_ERR => PamCode::AuthErr,
        _ => PamCode::SystemErr,
    }
}

/// What a conversation's failure means to us: the application could not ask the user,
/// whatever code it gave (PAM_ABORT, PAM_BUF_ERR, ...).
fn conv_failed(_: PamResultCode) -> PamCode {
    PamCode::ConvErr
}

/// The bytes of an answer or a secret item as a `Secret`. Not UTF-8: in `chauthtok`,
/// refused (`None`: a lossy copy stored as a password would let any other invalid bytes
/// in); elsewhere, U+0000 then the lossy text, a string no stored password can equal
/// (no PAM conversation carries a NUL) and that `set_secret_item` refuses to copy.
fn secret_of(bytes: &[u8], new_secrets: bool) -> Option<Secret> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Some(Zeroizing::new(s.to_string())),
        Err(_) if new_secrets => None,
        Err(_) => {
            let mut s = Zeroizing::new(String::with_capacity(bytes.len() * 3 + 1));
            s.push('\0');
            s.push_str(&String::from_utf8_lossy(bytes));
            Some(s)
        }
    }
}

/// A C string for libpam; NUL bytes (which C cannot carry) become `?`.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "?")).unwrap_or_default()
}

/// A PAM handle seen through `PamHandler`.
struct Handle<'a> {
    pamh: &'a mut PamHandle,
    silent: bool,
    /// Serving `chauthtok`: answers may become stored passwords.
    new_secrets: bool,
}

impl Handle<'_> {
    fn item_string<'a, T>(&'a self) -> Option<String>
    where
        T: pam::items::Item<'a> + std::ops::Deref<Target = &'a CStr>,
    {
        match self.pamh.get_item::<T>() {
            Ok(Some(v)) => Some(v.to_string_lossy().into_owned()),
            _ => None,
        }
    }

    fn send(&mut self, style: c_int, msg: &str) -> Result<Option<Secret>, PamCode> {
        let conv = match self.pamh.get_item::<Conv<'_>>() {
            Ok(Some(c)) => c,
            Ok(None) => return Err(PamCode::ConvErr),
            Err(e) => return Err(from_pam(e)),
        };
        let reply = conv.send(style, msg).map_err(conv_failed)?;
        match reply {
            None => Ok(None),
            Some(b) => match secret_of(b.as_bytes(), self.new_secrets) {
                Some(s) => Ok(Some(s)),
                None => {
                    self.syslog(
                        Priority::Notice,
                        "refusing a password that is not valid UTF-8",
                    );
                    Err(PamCode::AuthtokErr)
                }
            },
        }
    }

    fn set_secret_item(&mut self, item: c_int, tok: &str) -> Result<(), PamCode> {
        let mut bytes = Zeroizing::new(tok.as_bytes().to_vec());
        if bytes.contains(&0) {
            return Err(PamCode::AuthtokErr);
        }
        bytes.push(0);
        let pamh: *mut PamHandle = &mut *self.pamh;
        // SAFETY: `pamh` is the live handle libpam gave this hook; `bytes` is a
        // NUL-terminated buffer valid for the call, and libpam copies string items.
        let rc = unsafe { pam_set_item(pamh, item, bytes.as_ptr().cast::<c_void>()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(PamCode::SystemErr)
        }
    }
}

impl PamHandler for Handle<'_> {
    fn user(&mut self) -> Result<String, PamCode> {
        let pamh: *mut PamHandle = &mut *self.pamh;
        let mut ptr: *const c_char = std::ptr::null();
        // SAFETY: live handle; libpam stores a pointer to its own NUL-terminated copy of
        // PAM_USER in `ptr` (asking the application when unset); NULL prompt = default.
        let rc = unsafe { pam_get_user(pamh, &mut ptr, std::ptr::null()) };
        if rc != 0 {
            return Err(from_pam(
                PamResultCode::try_from(rc).unwrap_or(PamResultCode::PAM_SYSTEM_ERR),
            ));
        }
        if ptr.is_null() {
            return Err(PamCode::SystemErr);
        }
        // SAFETY: non-null, NUL-terminated, owned by libpam and unchanged during the copy.
        let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
        match std::str::from_utf8(bytes) {
            Ok(u) => Ok(u.to_string()),
            Err(_) => {
                // IAM user names are ASCII: such a name is nobody's here.
                let shown = String::from_utf8_lossy(bytes).into_owned();
                self.syslog(
                    Priority::Notice,
                    &format!("user {shown:?} is not valid UTF-8: not an IAM user"),
                );
                Err(PamCode::UserUnknown)
            }
        }
    }
    fn service(&self) -> Option<String> {
        self.item_string::<Service<'_>>()
    }
    fn tty(&self) -> Option<String> {
        self.item_string::<Tty<'_>>()
    }
    fn rhost(&self) -> Option<String> {
        self.item_string::<RHost<'_>>()
    }
    fn prompt(&mut self, echo: Echo, msg: &str) -> Result<Secret, PamCode> {
        let style = match echo {
            Echo::Off => PAM_PROMPT_ECHO_OFF,
            Echo::On => PAM_PROMPT_ECHO_ON,
        };
        self.send(style, msg)?.ok_or(PamCode::ConvErr)
    }
    fn info(&mut self, msg: &str) {
        if !self.silent {
            let _ = self.send(PAM_TEXT_INFO, msg);
        }
    }
    fn error(&mut self, msg: &str) {
        if !self.silent {
            let _ = self.send(PAM_ERROR_MSG, msg);
        }
    }
    fn error_always(&mut self, msg: &str) {
        let _ = self.send(PAM_ERROR_MSG, msg);
    }
    fn authtok(&self) -> Option<Secret> {
        match self.pamh.get_item::<AuthTok<'_>>() {
            Ok(Some(t)) => secret_of(t.as_bytes(), self.new_secrets),
            _ => None,
        }
    }
    fn set_authtok(&mut self, tok: &str) -> Result<(), PamCode> {
        self.set_secret_item(PAM_AUTHTOK, tok)
    }
    fn old_authtok(&self) -> Option<Secret> {
        match self.pamh.get_item::<OldAuthTok<'_>>() {
            Ok(Some(t)) => secret_of(t.as_bytes(), false),
            _ => None,
        }
    }
    fn set_old_authtok(&mut self, tok: &str) -> Result<(), PamCode> {
        self.set_secret_item(PAM_OLDAUTHTOK, tok)
    }
    fn getenv(&self, name: &str) -> Option<String> {
        let name = c_string(name);
        let pamh: *const PamHandle = &*self.pamh;
        // SAFETY: live handle; `name` is NUL-terminated. pam_getenv only reads through
        // the handle (its C prototype lacks const), and returns NULL or a pointer to a
        // NUL-terminated string owned by libpam that we copy before any other PAM call.
        let v = unsafe { pam_getenv(pamh.cast_mut(), name.as_ptr()) };
        if v.is_null() {
            return None;
        }
        // SAFETY: non-null, NUL-terminated, owned by libpam and unchanged during the copy.
        Some(unsafe { CStr::from_ptr(v) }.to_string_lossy().into_owned())
    }
    fn putenv(&mut self, name: &str, value: Option<&str>) -> Result<(), PamCode> {
        let entry = match value {
            Some(v) => c_string(&format!("{name}={v}")),
            None => c_string(name),
        };
        let pamh: *mut PamHandle = &mut *self.pamh;
        // SAFETY: live handle; `entry` is NUL-terminated and libpam copies it.
        let rc = unsafe { pam_putenv(pamh, entry.as_ptr()) };
        // Removing a variable that is not set reports PAM_BAD_ITEM: not an error here.
        if rc == 0 || value.is_none() {
            Ok(())
        } else {
            Err(PamCode::SystemErr)
        }
    }
    fn syslog(&mut self, prio: Priority, msg: &str) {
        let level = match prio {
            Priority::Err => libc::LOG_ERR,
            Priority::Notice => libc::LOG_NOTICE,
            Priority::Info => libc::LOG_INFO,
            Priority::Debug => libc::LOG_DEBUG,
        };
        let msg = c_string(msg);
        let pamh: *const PamHandle = &*self.pamh;
        // SAFETY: live handle; the format is the literal "%s" and its one argument is
        // a NUL-terminated string, so the variadic call reads exactly what it is given.
        unsafe { pam_syslog(pamh, level, c"%s".as_ptr(), msg.as_ptr()) };
    }
    fn fail_delay(&mut self, usec: u32) {
        let pamh: *mut PamHandle = &mut *self.pamh;
        // SAFETY: live handle; pam_fail_delay only records the value in it.
        let _ = unsafe { pam_fail_delay(pamh, usec) };
    }
    fn caller_is_root(&self) -> bool {
        nix::unistd::getuid().is_root()
    }

    fn keep_store(&mut self, store: KeptStore) {
        let key = kept_store_key();
        // SAFETY: data under this key is only ever set below, as a `KeptSlot`; the key
        // names this loaded copy of the module, so another copy's type cannot be there.
        if let Ok(slot) = unsafe { self.pamh.get_data::<KeptSlot>(&key) } {
            if let Ok(mut s) = slot.try_borrow_mut() {
                *s = Some(store);
            }
            return;
        }
        // libpam owns the slot from here and drops it (closing the store) at pam_end.
        let _ = self
            .pamh
            .set_data(&key, Box::new(KeptSlot::new(Some(store))));
    }

    fn take_store(&mut self) -> Option<KeptStore> {
        let key = kept_store_key();
        // SAFETY: as in `keep_store`: only a `KeptSlot` is ever stored under this key.
        let slot = unsafe { self.pamh.get_data::<KeptSlot>(&key) }.ok()?;
        slot.try_borrow_mut().ok()?.take()
    }
}

/// What `keep_store` leaves on the PAM handle.
type KeptSlot = std::cell::RefCell<Option<KeptStore>>;

/// The PAM data name of the kept store: unique to this loaded copy of the module (the
/// address of one of its functions), so two copies in one stack never share it.
fn kept_store_key() -> String {
    format!("pam_iam.kept_store.{:p}", kept_store_key as fn() -> String)
}
