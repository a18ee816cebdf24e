//! The module's side of the PAM edge: each export runs with panics contained (logged to
//! syslog, never printed on the user's terminal, never unwound into libpam), sees the
//! handle through `PamHandler`, and its `PamCode` becomes libpam's number. The C
//! binding itself is `sys.rs`. No threads, no globals that outlive the loaded module.

use std::cell::Cell;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::{Mutex, Once};

use zeroize::Zeroizing;

use super::handler::{Echo, PamCode, PamHandler, Priority, Secret};
use super::password::Pass;
use super::sys::{self, Export, PamHandle};
use super::{Hook, KeptStore, dispatch};

/// Panic messages recorded by our panic hook, keyed by kernel thread id, until the
/// `contained` call of that thread takes its own.
static PANICS: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

thread_local! {
    /// How many `contained` calls this thread is inside (no destructor: nothing is
    /// registered with the C runtime, so `dlclose` can unload the module).
    static INSIDE: Cell<u32> = const { Cell::new(0) };
}

/// Install, once per load of the module, a panic hook that records the message of a
/// panic inside `contained` for that thread instead of printing it. The hook lives in
/// this module's own copy of the Rust runtime (a cdylib links its own std, whose statics
/// are private to it and unmapped with it), so it is never swapped per call and never
/// races with another thread's call; the host's own panic hook, if it has one, is not
/// touched. A panic outside `contained` (none in the module; unit tests) is printed as
/// the default hook would.
fn contain_panics() {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if INSIDE.with(Cell::get) == 0 {
                eprintln!("{info}");
                return;
            }
            let tid = nix::unistd::gettid().as_raw();
            panics().push((tid, info.to_string()));
        }));
    });
}

/// The recorded messages (poisoning cannot hide them: no code panics holding the lock,
/// and if some did, the list would still be whole).
fn panics() -> std::sync::MutexGuard<'static, Vec<(i32, String)>> {
    PANICS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The panic message this thread recorded, if any.
fn take_panic() -> String {
    let tid = nix::unistd::gettid().as_raw();
    let mut p = panics();
    let msg = p
        .iter()
        .position(|(t, _)| *t == tid)
        .map(|i| p.swap_remove(i).1);
    if p.is_empty() {
        // Free the buffer: a static's heap would outlive the unloaded module.
        *p = Vec::new();
    }
    msg.unwrap_or_default()
}

/// Run `f`; a panic in it becomes `Err(message)` and goes no further.
fn contained<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    contain_panics();
    INSIDE.with(|d| d.set(d.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let msg = take_panic();
        // Dropping a panic payload can itself panic: drop it contained (still inside,
        // so nothing is printed), and forget what that second panic carries.
        if let Err(again) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(payload)))
        {
            std::mem::forget(again);
            let _ = take_panic();
        }
        msg
    });
    INSIDE.with(|d| d.set(d.get().saturating_sub(1)));
    result
}

/// One export, with nothing escaping to libpam: a panic anywhere (reading the
/// arguments, the hook, logging) is logged and denies (`setcred`: succeeds, as it always
/// does), a null handle or malformed argument list is `PAM_ABORT`.
///
/// # Safety
/// `pamh` is null or the live handle of this call; `argv` is null or points to `argc`
/// pointers, each null or a NUL-terminated string valid for the call.
pub(super) unsafe fn serve(
    pamh: *mut PamHandle,
    flags: c_int,
    argc: c_int,
    argv: *const *const c_char,
    which: Export,
) -> c_int {
    let on_panic = match which {
        Export::Setcred => sys::PAM_SUCCESS,
        _ => sys::PAM_SYSTEM_ERR,
    };
    let result = contained(|| {
        // SAFETY: null or the live handle of this call (the caller's contract).
        let Some(pamh) = (unsafe { pamh.as_mut() }) else {
            return sys::PAM_ABORT;
        };
        // SAFETY: the caller's contract for `argc` / `argv`.
        let Some(args) = (unsafe { sys::args(argc, argv) }) else {
            return sys::PAM_ABORT;
        };
        hook(pamh, &args, flags, which)
    });
    match result {
        Ok(rc) => rc,
        Err(msg) => {
            // SAFETY: as above; the handle borrowed inside the closure is gone.
            if let Some(pamh) = unsafe { pamh.as_mut() } {
                log_contained(pamh, &msg);
            }
            on_panic
        }
    }
}

/// The syslog line for a contained panic (itself contained: it may not fail either).
fn log_contained(pamh: &mut PamHandle, msg: &str) {
    let _ = contained(|| {
        let mut h = Handle {
            pamh,
            silent: true,
            new_secrets: false,
        };
        h.syslog(Priority::Err, &format!("internal error, denying: {msg}"));
    });
}

/// Serve one hook through `PamHandler`.
fn hook(pamh: &mut PamHandle, args: &[String], flags: c_int, which: Export) -> c_int {
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
    let mut h = Handle {
        pamh,
        silent: flags & sys::PAM_SILENT != 0,
        new_secrets: matches!(hook, Hook::Chauthtok { .. }),
    };
    to_pam(dispatch(&mut h, hook, args))
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
        // SAFETY: the same `len` bytes, ours (readable and writable) until freed.
        let answer = unsafe { std::slice::from_raw_parts_mut(text.cast::<u8>(), len) };
        let bytes = Zeroizing::new(answer.to_vec());
        // Volatile writes: a plain wipe just before free may be optimised away.
        zeroize::Zeroize::zeroize(answer);
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

    fn keep_store(&mut self, store: KeptStore) {
        if let Some(slot) = self.kept_slot() {
            if let Ok(mut s) = slot.try_borrow_mut() {
                *s = Some(store);
            }
            return;
        }
        let key = kept_store_key();
        let slot = Box::into_raw(Box::new(KeptSlot::new(Some(store))));
        let pamh: *mut PamHandle = &mut *self.pamh;
        // SAFETY: live handle; libpam copies the name and, on success, owns `slot` until
        // it hands it back, once, to `drop_kept_slot`.
        let rc =
            unsafe { sys::pam_set_data(pamh, key.as_ptr(), slot.cast(), Some(drop_kept_slot)) };
        if rc != sys::PAM_SUCCESS {
            // SAFETY: refused, so libpam holds no copy: the box is ours alone again.
            drop(unsafe { Box::from_raw(slot) });
        }
    }

    fn take_store(&mut self) -> Option<KeptStore> {
        self.kept_slot()?.try_borrow_mut().ok()?.take()
    }
}

impl Handle<'_> {
    /// The slot `keep_store` left on this handle, if any.
    fn kept_slot(&self) -> Option<&KeptSlot> {
        let key = kept_store_key();
        let pamh: *const PamHandle = &*self.pamh;
        let mut ptr: *const c_void = std::ptr::null();
        // SAFETY: live handle; libpam stores the data pointer set under `key`, or fails.
        let rc = unsafe { sys::pam_get_data(pamh, key.as_ptr(), &mut ptr) };
        if rc != sys::PAM_SUCCESS || ptr.is_null() {
            return None;
        }
        // SAFETY: only a `KeptSlot` is ever set under this key (it names this loaded copy
        // of the module, so another copy's type cannot be there), and libpam frees it only
        // at pam_end, which cannot run while this hook borrows the handle.
        Some(unsafe { &*ptr.cast::<KeptSlot>() })
    }
}

/// What `keep_store` leaves on the PAM handle.
type KeptSlot = std::cell::RefCell<Option<KeptStore>>;

/// The PAM data name of the kept store: unique to this loaded copy of the module (the
/// address of one of its functions), so two copies in one stack never share it.
fn kept_store_key() -> CString {
    c_string(&format!(
        "pam_iam.kept_store.{:p}",
        kept_store_key as fn() -> CString
    ))
}

/// libpam's cleanup for the kept slot, called once per slot: at `pam_end`, or with
/// `PAM_DATA_REPLACE` if the name were set again (`keep_store` reuses the slot instead).
/// It frees the slot; the store in it, if any, is closed by `KeptStore`'s drop, and only
/// in the process that opened it. So `error_status` changes nothing: a forked child
/// ending its copy of the handle (`PAM_DATA_SILENT`, or a child that does not say so)
/// frees its memory but leaves the inherited SQLite connection alone, as SQLite
/// requires, while the parent closes the real one. A panic stops here.
///
/// # Safety
/// Called by libpam with the pointer `keep_store` gave `pam_set_data`, exactly once.
unsafe extern "C" fn drop_kept_slot(pamh: *mut PamHandle, data: *mut c_void, _error_status: c_int) {
    if data.is_null() {
        return;
    }
    // SAFETY: `data` is the `Box<KeptSlot>` leaked in `keep_store`, handed back once.
    let slot = unsafe { Box::from_raw(data.cast::<KeptSlot>()) };
    if let Err(msg) = contained(move || drop(slot)) {
        // SAFETY: libpam passes the handle being ended (or null).
        if let Some(pamh) = unsafe { pamh.as_mut() } {
            log_contained(pamh, &msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pam_end` in a forked child (`_pam_types.h`).
    const PAM_DATA_SILENT: c_int = 0x4000_0000;

    /// Several host threads panic inside the module at once: each gets its own message,
    /// none is printed or lost, and the hook is never swapped under another thread.
    #[test]
    fn concurrent_panics_each_report_their_own_message() {
        let start = std::sync::Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    for r in 0..2000 {
                        let want = format!("thread {t} round {r}");
                        let got = contained(|| -> u32 { panic!("{}", want.clone()) });
                        let msg = got.expect_err("the panic is contained");
                        assert!(
                            msg.contains(&format!("{want}\n")) || msg.ends_with(&want),
                            "thread {t} round {r} got {msg:?}"
                        );
                        assert_eq!(contained(|| r), Ok(r), "no stale message afterwards");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic escaped a thread");
        }
        assert!(panics().is_empty(), "every message was taken");
    }

    #[test]
    fn a_payload_that_panics_when_dropped_is_contained_too() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("dropping the payload");
            }
        }
        let got = contained(|| -> u32 { std::panic::panic_any(Bomb) });
        assert!(got.is_err());
        assert_eq!(
            take_panic(),
            "",
            "the second panic's message was taken as well"
        );
        assert_eq!(contained(|| 7), Ok(7));
    }

    #[test]
    fn what_libpam_never_sends_is_refused_without_touching_it() {
        let dangling = std::ptr::NonNull::<PamHandle>::dangling().as_ptr();
        let one: [*const c_char; 1] = [std::ptr::null()];
        // SAFETY: null or dangling handles are refused before any use.
        unsafe {
            assert_eq!(
                serve(
                    std::ptr::null_mut(),
                    0,
                    0,
                    std::ptr::null(),
                    Export::Authenticate
                ),
                sys::PAM_ABORT
            );
            assert_eq!(
                serve(dangling, 0, -1, std::ptr::null(), Export::AcctMgmt),
                sys::PAM_ABORT
            );
            assert_eq!(
                serve(dangling, 0, 1, std::ptr::null(), Export::OpenSession),
                sys::PAM_ABORT
            );
            assert_eq!(
                serve(dangling, 0, 1, one.as_ptr(), Export::Chauthtok),
                sys::PAM_ABORT
            );
        }
    }

    #[test]
    fn the_cleanup_frees_the_slot_and_closes_the_store_once() {
        use std::os::unix::fs::PermissionsExt;
        let store = |dir: &std::path::Path| {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
            let db = dir.join("iam.db");
            drop(crate::store::open_path(&db, crate::store::OpenMode::ReadWrite).unwrap());
            db.display().to_string()
        };
        // Descriptors of this process open on files under `dir`.
        let open_under = |dir: &std::path::Path| {
            std::fs::read_dir("/proc/self/fd")
                .unwrap()
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|t| t.starts_with(dir))
                .count()
        };
        let mine = tempfile::tempdir().unwrap();
        let db = store(mine.path());
        let kept = KeptStore::open(&db).unwrap();
        assert!(open_under(mine.path()) > 0, "the store holds descriptors");
        for slot in [Some(kept), None] {
            let data = Box::into_raw(Box::new(KeptSlot::new(slot)));
            // SAFETY: a `Box<KeptSlot>` handed over once, as libpam does at pam_end.
            unsafe { drop_kept_slot(std::ptr::null_mut(), data.cast(), sys::PAM_SUCCESS) };
        }
        assert_eq!(open_under(mine.path()), 0, "closed by the cleanup");
        // SAFETY: null data is ignored.
        unsafe { drop_kept_slot(std::ptr::null_mut(), std::ptr::null_mut(), 0) };

        // A forked child ending its copy of the handle: its inherited connection is
        // left open (never closed under the parent), whatever the status says.
        let inherited = tempfile::tempdir().unwrap();
        let db = store(inherited.path());
        for status in [0, PAM_DATA_SILENT] {
            let mut kept = KeptStore::open(&db).unwrap();
            kept.pid = kept.pid.wrapping_add(1); // as the child sees it
            let data = Box::into_raw(Box::new(KeptSlot::new(Some(kept))));
            // SAFETY: as above.
            unsafe { drop_kept_slot(std::ptr::null_mut(), data.cast(), status) };
        }
        assert!(open_under(inherited.path()) > 0, "left alone");
    }
}
