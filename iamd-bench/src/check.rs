//! What a good answer is: HTTP 200 and the operation's XML response, well-formed, with
//! the expected content (the user asked for; a full page of users).

use quick_xml::Reader;
use quick_xml::events::Event;

/// The benchmarked calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `GetUser` of the benchmark user.
    GetUser,
    /// `ListUsers` with `MaxItems=100`, over a store of 100 users (moto ignores
    /// `MaxItems` and answers every user, so a bigger store would give it a bigger page).
    ListUsers,
}

/// Users a `ListUsers` page holds.
pub const PAGE: usize = 100;

/// The user every call is made as (and `GetUser` asks for).
pub const USER: &str = "bench";

impl Action {
    /// Its wire name.
    pub fn name(self) -> &'static str {
        match self {
            Action::GetUser => "GetUser",
            Action::ListUsers => "ListUsers",
        }
    }

    /// Parse a wire name.
    ///
    /// # Errors
    /// A message listing the known ones.
    pub fn parse(s: &str) -> Result<Action, String> {
        match s {
            "GetUser" => Ok(Action::GetUser),
            "ListUsers" => Ok(Action::ListUsers),
            _ => Err(format!("unknown action {s:?}: GetUser or ListUsers")),
        }
    }

    /// The form body.
    pub fn body(self) -> String {
        match self {
            Action::GetUser => format!("Action=GetUser&Version=2010-05-08&UserName={USER}"),
            Action::ListUsers => format!("Action=ListUsers&Version=2010-05-08&MaxItems={PAGE}"),
        }
    }

    /// Check an answer cheaply (every answer): the status, the response element closing
    /// the body, and the content: the user's name, or exactly [`PAGE`] users.
    ///
    /// # Errors
    /// What is wrong, with the start of the body.
    pub fn check(self, status: u16, body: &[u8]) -> Result<(), String> {
        let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
        let bad = |why: &str| {
            let head: String = text.chars().take(300).collect();
            Err(format!("{} {status}: {why}: {head}", self.name()))
        };
        if status != 200 {
            return bad("not 200");
        }
        let close = format!("</{}Response>", self.name());
        if !text.trim_end().ends_with(&close) {
            return bad("the response element does not close the body");
        }
        if !text.contains(&format!("<{}Result>", self.name())) {
            return bad("no result element");
        }
        match self {
            Action::GetUser => {
                if !text.contains(&format!("<UserName>{USER}</UserName>")) {
                    return bad("not the benchmark user");
                }
            }
            Action::ListUsers => {
                let n = text.matches("<member>").count();
                if n != PAGE {
                    return bad(&format!("{n} users, not {PAGE}"));
                }
                if !text.contains("<IsTruncated>") {
                    return bad("no IsTruncated");
                }
            }
        }
        Ok(())
    }
}

/// Whether `body` is well-formed XML (every element closed by its own name): run on a
/// sample of the answers, as a full parse costs the load generator CPU it shares with the
/// server.
///
/// # Errors
/// The parser's message.
pub fn well_formed(body: &[u8]) -> Result<(), String> {
    let mut r = Reader::from_reader(body);
    r.config_mut().check_end_names = true;
    let mut depth = 0i64;
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf) {
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("not well-formed XML: {e}")),
        }
        buf.clear();
    }
    if depth == 0 {
        Ok(())
    } else {
        Err("not well-formed XML: unclosed elements".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_get_user_passes_and_an_error_or_a_truncated_body_fails() {
        let ok = "<GetUserResponse><GetUserResult><User><UserName>bench</UserName></User></GetUserResult></GetUserResponse>\n";
        assert!(Action::GetUser.check(200, ok.as_bytes()).is_ok());
        assert!(well_formed(ok.as_bytes()).is_ok());
        assert!(Action::GetUser.check(403, ok.as_bytes()).is_err());
        let cut = &ok[..ok.len() - 20];
        assert!(Action::GetUser.check(200, cut.as_bytes()).is_err());
        assert!(well_formed(b"<a><b></a>").is_err());
        assert!(well_formed(b"<a><b></b>").is_err());
    }
}
