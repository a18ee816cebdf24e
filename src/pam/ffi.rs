//! The module's side of the PAM edge: each hook runs with panics contained (logged to
//! syslog, never printed on the user's terminal), sees the handle through
//! `PamHandler`, and its `PamCode` becomes libpam's number. The C binding itself is
//! `sys.rs`. No threads, no globals that outlive the loaded module.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::{Mutex, Once};
use std::thread::ThreadId;

use zeroize::Zeroizing;

use super::handler::{Echo, PamCode, PamHandler, Priority, Secret};
use super::password::Pass;
use super::sys::{self, Export, PamHandle};
use super::{Hook, dispatch};

/// Panic messages recorded by our panic hook, per thread, until the hook's `entry`
/// takes its own.
static PANICS: Mutex<Vec<(ThreadId, String)>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

/// Install, once per load of the module, a panic hook that records the message instead
/// of printing it. The hook lives in this module's own copy of the Rust runtime (a
/// cdylib links its own std, whose statics are private to it and unmapped with it), so
/// it is never swapped per call, never races with other threads, and outlives nothing.
fn contain_panics() {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if let Ok(mut p) = PANICS.lock() {
                p.push((std::thread::current().id(), info.to_string()));
            }
        }));
    });
}

/// The panic message this thread recorded, if any.
fn take_panic() -> String {
    let me = std::thread::current().id();
    PANICS
        .lock()
        .ok()
        .and_then(|mut p| {
            let i = p.iter().position(|(t, _)| *t == me)?;
            Some(p.swap_remove(i).1)
        })
        .unwrap_or_default()
}

/// Run one hook with panics contained.
pub(super) fn entry(pamh: &mut PamHandle, args: Vec<String>, flags: c_int, which: Export) -> c_int {
    contain_panics();
    let hook = match which {
        Export::Authenticate => Hook::Authenticate,
        Export::Setcred => Hook::Setcred,
        Export::AcctMgmt => Hook::AcctMgmt,
        Export::OpenSession => Hook::OpenSession,
        Export::CloseSession => Hook::CloseSession,
        Export::Chauthtok => Hook::Chauthtok {
            pass: if flags & sys::PAM_PRELIM_CHECK != 0 {
                Pass::Prelim
            } else {
                Pass::Update
            },
            expired: flags & sys::PAM_CHANGE_EXPIRED_AUTHTOK != 0,
        },
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut h = Handle {
            pamh: &mut *pamh,
            silent: flags & sys::PAM_SILENT != 0,
            new_secrets: matches!(hook, Hook::Chauthtok { .. }),
        };
        dispatch(&mut h, hook, &args)
    }));
    match result {
        Ok(code) => to_pam(code),
        Err(payload) => {
            let msg = take_panic();
            // Dropping a panic payload can itself panic; forget it instead.
            std::mem::forget(payload);
            let mut h = Handle {
                pamh,
                silent: true,
                new_secrets: false,
            };
            h.syslog(Priority::Err, &format!("internal error, denying: {msg}"));
            match hook {
                Hook::Setcred => sys::PAM_SUCCESS,
                _ => sys::PAM_SYSTEM_ERR,
            }
        }
    }
}

/// The one place `PamCode` meets libpam's numbers.
fn to_pam(code: PamCode) -> c_int {
    match code {
        PamCode::Success => sys::PAM_SUCCESS,
        PamCode::AuthErr => sys::PAM_AUTH_ERR,
        PamCode::UserUnknown => sys::PAM_USER_UNKNOWN,
        PamCode::PermDenied => sys::PAM_PERM_DENIED,
        PamCode::NewAuthtokReqd => sys::PAM_NEW_AUTHTOK_REQD,
        PamCode::AcctExpired => sys::PAM_ACCT_EXPIRED,
        PamCode::AuthinfoUnavail => sys::PAM_AUTHINFO_UNAVAIL,
        PamCode::SystemErr => sys::PAM_SYSTEM_ERR,
        PamCode::CredInsufficient => sys::PAM_CRED_INSUFFICIENT,
        PamCode::ConvErr => sys::PAM_CONV_ERR,
        PamCode::AuthtokErr => sys::PAM_AUTHTOK_ERR,
        PamCode::AuthtokRecoveryErr => sys::PAM_AUTHTOK_RECOVERY_ERR,
        PamCode::SessionErr => sys::PAM_SESSION_ERR,
        PamCode::Ignore => sys::PAM_IGNORE,
        PamCode::ServiceErr => sys::PAM_SERVICE_ERR,
    }
}

fn from_pam(code: c_int) -> PamCode {
    match code {
        sys::PAM_CONV_ERR => PamCode::ConvErr,
        sys::PAM_USER_UNKNOWN => PamCode::UserUnknown,
        sys::PAM_AUTH_ERR => PamCode::AuthErr,
        _ => PamCode::SystemErr,
    }
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

/// Copy out and free a conversation response: its text is wiped before `free`.
fn free_response(resp: *mut sys::PamResponse) -> Option<Zeroizing<Vec<u8>>> {
    if resp.is_null() {
        return None;
    }
    // SAFETY: a non-null response is one malloc'd `pam_response` we now own.
    let text = unsafe { (*resp).resp };
    let answer = if text.is_null() {
        None
    } else {
        // SAFETY: the application's malloc'd NUL-terminated answer, ours to free.
        let len = unsafe { CStr::from_ptr(text) }.to_bytes().len();
        // SAFETY: the same `len` readable bytes.
        let copy = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) };
        let bytes = Zeroizing::new(copy.to_vec());
        // SAFETY: `len` bytes of the answer are writable; wipe them before free.
        unsafe { std::ptr::write_bytes(text, 0, len) };
        // SAFETY: allocated by the application with malloc.
        unsafe { libc::free(text.cast()) };
        Some(bytes)
    };
    // SAFETY: allocated by the application with malloc.
    unsafe { libc::free(resp.cast()) };
    answer
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
    /// A string item (`PAM_SERVICE`, `PAM_TTY`, ...) as raw bytes; `None` when unset.
    fn item_bytes(&self, item: c_int) -> Option<Vec<u8>> {
        let pamh: *const PamHandle = &*self.pamh;
        let mut ptr: *const c_void = std::ptr::null();
        // SAFETY: live handle; for string items libpam stores a pointer to its own
        // NUL-terminated copy (or NULL) in `ptr`.
        let rc = unsafe { sys::pam_get_item(pamh, item, &mut ptr) };
        if rc != sys::PAM_SUCCESS || ptr.is_null() {
            return None;
        }
        // SAFETY: non-null, NUL-terminated, owned by libpam and unchanged during the copy.
        Some(
            unsafe { CStr::from_ptr(ptr.cast::<c_char>()) }
                .to_bytes()
                .to_vec(),
        )
    }

    fn item_string(&self, item: c_int) -> Option<String> {
        self.item_bytes(item)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// A secret item (`PAM_AUTHTOK`, `PAM_OLDAUTHTOK`); the copy is wiped after use.
    fn secret_item(&self, item: c_int, new_secrets: bool) -> Option<Secret> {
        let bytes = Zeroizing::new(self.item_bytes(item)?);
        secret_of(&bytes, new_secrets)
    }

    /// One message to the application's conversation; its answer, if it gave one.
    fn converse(&self, style: c_int, msg: &str) -> Result<Option<Zeroizing<Vec<u8>>>, PamCode> {
        let pamh: *const PamHandle = &*self.pamh;
        let mut ptr: *const c_void = std::ptr::null();
        // SAFETY: live handle; PAM_CONV is a pointer to the application's `pam_conv`.
        let rc = unsafe { sys::pam_get_item(pamh, sys::PAM_CONV, &mut ptr) };
        if rc != sys::PAM_SUCCESS {
            return Err(from_pam(rc));
        }
        // SAFETY: libpam keeps the `pam_conv` alive for the handle's lifetime.
        let Some(conv) = (unsafe { ptr.cast::<sys::PamConv>().as_ref() }) else {
            return Err(PamCode::ConvErr);
        };
        let Some(conv_fn) = conv.conv else {
            return Err(PamCode::ConvErr);
        };
        // A message C cannot carry is a conversation that could not happen.
        let text = CString::new(msg).map_err(|_| PamCode::ConvErr)?;
        let message = sys::PamMessage {
            msg_style: style,
            msg: text.as_ptr(),
        };
        let mut message_ptr: *const sys::PamMessage = &message;
        let mut resp: *mut sys::PamResponse = std::ptr::null_mut();
        // SAFETY: one valid message; the application allocates the response array with
        // malloc (or leaves it NULL) and we own it afterwards.
        let rc = unsafe { conv_fn(1, &mut message_ptr, &mut resp, conv.appdata_ptr) };
        if rc != sys::PAM_SUCCESS {
            // Whatever code it gave (PAM_ABORT, PAM_BUF_ERR, ...): the application could
            // not ask the user. What `resp` holds then is the application's business.
            return Err(PamCode::ConvErr);
        }
        if resp.is_null() {
            return Err(PamCode::ConvErr);
        }
        Ok(free_response(resp))
    }

    fn send(&mut self, style: c_int, msg: &str) -> Result<Option<Secret>, PamCode> {
        match self.converse(style, msg)? {
            None => Ok(None),
            Some(b) => match secret_of(&b, self.new_secrets) {
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
        let rc = unsafe { sys::pam_set_item(pamh, item, bytes.as_ptr().cast::<c_void>()) };
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
        let rc = unsafe { sys::pam_get_user(pamh, &mut ptr, std::ptr::null()) };
        if rc != 0 {
            return Err(from_pam(rc));
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
        self.item_string(sys::PAM_SERVICE)
    }
    fn tty(&self) -> Option<String> {
        self.item_string(sys::PAM_TTY)
    }
    fn rhost(&self) -> Option<String> {
        self.item_string(sys::PAM_RHOST)
    }
    fn prompt(&mut self, echo: Echo, msg: &str) -> Result<Secret, PamCode> {
        let style = match echo {
            Echo::Off => sys::PAM_PROMPT_ECHO_OFF,
            Echo::On => sys::PAM_PROMPT_ECHO_ON,
        };
        self.send(style, msg)?.ok_or(PamCode::ConvErr)
    }
    fn info(&mut self, msg: &str) {
        if !self.silent {
            let _ = self.send(sys::PAM_TEXT_INFO, msg);
        }
    }
    fn error(&mut self, msg: &str) {
        if !self.silent {
            let _ = self.send(sys::PAM_ERROR_MSG, msg);
        }
    }
    fn error_always(&mut self, msg: &str) {
        let _ = self.send(sys::PAM_ERROR_MSG, msg);
    }
    fn authtok(&self) -> Option<Secret> {
        self.secret_item(sys::PAM_AUTHTOK, self.new_secrets)
    }
    fn set_authtok(&mut self, tok: &str) -> Result<(), PamCode> {
        self.set_secret_item(sys::PAM_AUTHTOK, tok)
    }
    fn old_authtok(&self) -> Option<Secret> {
        self.secret_item(sys::PAM_OLDAUTHTOK, false)
    }
    fn set_old_authtok(&mut self, tok: &str) -> Result<(), PamCode> {
        self.set_secret_item(sys::PAM_OLDAUTHTOK, tok)
    }
    fn getenv(&self, name: &str) -> Option<String> {
        let name = c_string(name);
        let pamh: *const PamHandle = &*self.pamh;
        // SAFETY: live handle; `name` is NUL-terminated. pam_getenv only reads through
        // the handle (its C prototype lacks const), and returns NULL or a pointer to a
        // NUL-terminated string owned by libpam that we copy before any other PAM call.
        let v = unsafe { sys::pam_getenv(pamh.cast_mut(), name.as_ptr()) };
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
        let rc = unsafe { sys::pam_putenv(pamh, entry.as_ptr()) };
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
        unsafe { sys::pam_syslog(pamh, level, c"%s".as_ptr(), msg.as_ptr()) };
    }
    fn fail_delay(&mut self, usec: u32) {
        let pamh: *mut PamHandle = &mut *self.pamh;
        // SAFETY: live handle; pam_fail_delay only records the value in it.
        let _ = unsafe { sys::pam_fail_delay(pamh, usec) };
    }
    fn caller_is_root(&self) -> bool {
        nix::unistd::getuid().is_root()
    }
}
