//! Wildcard patterns (`*` any run of characters, `?` exactly one character), compiled
//! once into the cheapest matcher that fits: any, exact, prefix, or a general glob.

use super::context::Context;
use super::document::same_bytes;
use super::variables::{Missing, Piece, Template, Var};

/// One pattern character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PChar {
    Byte(u8),
    Star,
    One,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    Any,
    Exact(Box<str>),
    Prefix(Box<str>),
    General(Box<[PChar]>),
    /// Holds request-key variables: resolved at evaluation, their values literal.
    Vars(Box<[GPiece]>),
}

/// A piece of a pattern with variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GPiece {
    Chars(Box<[PChar]>),
    Var(Var),
}

fn push_text(out: &mut Vec<PChar>, t: &str, wild: bool, fold: bool) {
    for &b in t.as_bytes() {
        out.push(match b {
            b'*' if wild => PChar::Star,
            b'?' if wild => PChar::One,
            _ if fold => PChar::Byte(b.to_ascii_lowercase()),
            _ => PChar::Byte(b),
        });
    }
}

impl Glob {
    /// Compiles a template; `fold` lowers ASCII letters (for case-insensitive action
    /// names, matched with [`Glob::matches_plain`] and `fold`).
    pub(crate) fn compile(t: &Template, fold: bool) -> Glob {
        if t.has_vars() {
            let mut pieces = Vec::new();
            let mut cur = Vec::new();
            for p in &t.pieces {
                match p {
                    Piece::Text(s) => push_text(&mut cur, s, true, fold),
                    Piece::Literal(s) => push_text(&mut cur, s, false, fold),
                    Piece::Var(v) => {
                        if !cur.is_empty() {
                            pieces.push(GPiece::Chars(std::mem::take(&mut cur).into()));
                        }
                        pieces.push(GPiece::Var(v.clone()));
                    }
                }
            }
            if !cur.is_empty() {
                pieces.push(GPiece::Chars(cur.into()));
            }
            return Glob::Vars(pieces.into());
        }
        let mut chars = Vec::new();
        for p in &t.pieces {
            match p {
                Piece::Text(s) => push_text(&mut chars, s, true, fold),
                Piece::Literal(s) => push_text(&mut chars, s, false, fold),
                Piece::Var(_) => {}
            }
        }
        Self::from_chars(chars)
    }

    /// Compiles plain pattern text (no variables).
    pub(crate) fn from_text(s: &str, fold: bool) -> Glob {
        let mut chars = Vec::new();
        push_text(&mut chars, s, true, fold);
        Self::from_chars(chars)
    }

    fn from_chars(chars: Vec<PChar>) -> Glob {
        if chars.iter().all(|c| *c == PChar::Star) && !chars.is_empty() {
            return Glob::Any;
        }
        let literal = |cs: &[PChar]| -> Option<Box<str>> {
            let mut bytes = Vec::with_capacity(cs.len());
            for c in cs {
                match c {
                    PChar::Byte(b) => bytes.push(*b),
                    _ => return None,
                }
            }
            String::from_utf8(bytes).ok().map(String::into_boxed_str)
        };
        if let Some(s) = literal(&chars) {
            return Glob::Exact(s);
        }
        if let Some((PChar::Star, head)) = chars.split_last() {
            if let Some(s) = literal(head) {
                return Glob::Prefix(s);
            }
        }
        Glob::General(chars.into())
    }

    /// Matches text against a pattern without variables (a `Vars` pattern matches
    /// nothing here: use [`Glob::matches`]).
    #[inline]
    pub(crate) fn matches_plain(&self, text: &str, fold: bool) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(s) => {
                if fold {
                    s.as_bytes().eq_ignore_ascii_case(text.as_bytes())
                } else {
                    **s == *text
                }
            }
            Glob::Prefix(s) => {
                let t = text.as_bytes();
                let p = s.as_bytes();
                t.len() >= p.len()
                    && if fold {
                        t[..p.len()].eq_ignore_ascii_case(p)
                    } else {
                        t[..p.len()] == *p
                    }
            }
            Glob::General(cs) => glob_match(cs, text.as_bytes(), fold),
            Glob::Vars(_) => false,
        }
    }

    /// The pattern for what follows a literal prefix of `n` bytes (an action's
    /// `service:`), so text known to start with that prefix can be matched from there.
    /// `None` when the pattern does not start with `n` literal bytes.
    pub(crate) fn after_literal_prefix(&self, n: usize) -> Option<Glob> {
        let chars: Vec<PChar> = match self {
            Glob::Exact(s) | Glob::Prefix(s) => {
                let rest = s.get(n..)?;
                let mut cs: Vec<PChar> = rest.bytes().map(PChar::Byte).collect();
                if matches!(self, Glob::Prefix(_)) {
                    cs.push(PChar::Star);
                }
                cs
            }
            Glob::General(cs) => {
                let head = cs.get(..n)?;
                if !head.iter().all(|c| matches!(c, PChar::Byte(_))) {
                    return None;
                }
                cs[n..].to_vec()
            }
            Glob::Any | Glob::Vars(_) => return None,
        };
        Some(Self::from_chars(chars))
    }

    /// [`Glob::matches_plain`] with `fold` on, for text already folded to ASCII lower
    /// case (an action folded once per decision): the same answer, without folding
    /// every byte again for every pattern.
    #[inline]
    pub(crate) fn matches_folded(&self, folded: &[u8]) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(s) => same_bytes(s.as_bytes(), folded),
            Glob::Prefix(s) => folded
                .get(..s.len())
                .is_some_and(|head| same_bytes(head, s.as_bytes())),
            Glob::General(cs) => glob_match(cs, folded, false),
            Glob::Vars(_) => false,
        }
    }

    /// Matches text, resolving variables from the context; an unresolvable variable
    /// makes the pattern match nothing (AWS: the element does not match).
    #[inline]
    pub(crate) fn matches(
        &self,
        text: &str,
        fold: bool,
        ctx: &Context,
        missing: &mut Missing,
    ) -> bool {
        match self {
            Glob::Vars(pieces) => Self::matches_vars(pieces, text, fold, ctx, missing),
            _ => self.matches_plain(text, fold),
        }
    }

    fn matches_vars(
        pieces: &[GPiece],
        text: &str,
        fold: bool,
        ctx: &Context,
        missing: &mut Missing,
    ) -> bool {
        let mut chars = Vec::new();
        for p in pieces {
            match p {
                GPiece::Chars(cs) => chars.extend_from_slice(cs),
                GPiece::Var(v) => match v.resolve(ctx, missing) {
                    Some(val) => push_text(&mut chars, val, false, fold),
                    None => return false,
                },
            }
        }
        glob_match(&chars, text.as_bytes(), fold)
    }
}

/// Length of the UTF-8 sequence a leading byte starts (1 for stray continuation bytes).
fn char_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Iterative glob with single-star backtracking: linear memory, O(n·m) worst case,
/// no recursion. `?` consumes one character (not one byte).
fn glob_match(p: &[PChar], t: &[u8], fold: bool) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if let Some(&c) = p.get(pi) {
            match c {
                PChar::Star => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                PChar::One => {
                    ti = (ti + char_len(t[ti])).min(t.len());
                    pi += 1;
                    continue;
                }
                PChar::Byte(b) => {
                    let tb = t[ti];
                    let eq = if fold {
                        b == tb.to_ascii_lowercase()
                    } else {
                        b == tb
                    };
                    if eq {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                let next = (st + char_len(t[st])).min(t.len());
                star = Some((sp, next));
                pi = sp + 1;
                ti = next;
            }
            None => return false,
        }
    }
    p[pi.min(p.len())..].iter().all(|c| *c == PChar::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        pattern: &'static str,
        text: &'static str,
        want: bool,
    }

    #[test]
    fn wildcard_table() {
        let cases = [
            Case {
                pattern: "*",
                text: "",
                want: true,
            },
            Case {
                pattern: "*",
                text: "anything",
                want: true,
            },
            Case {
                pattern: "abc",
                text: "abc",
                want: true,
            },
            Case {
                pattern: "abc",
                text: "abcd",
                want: false,
            },
            Case {
                pattern: "ab*",
                text: "abcd",
                want: true,
            },
            Case {
                pattern: "ab*",
                text: "a",
                want: false,
            },
            Case {
                pattern: "a?c",
                text: "abc",
                want: true,
            },
            Case {
                pattern: "a?c",
                text: "ac",
                want: false,
            },
            Case {
                pattern: "a?c",
                text: "aéc",
                want: true,
            },
            Case {
                pattern: "*b*d",
                text: "abcd",
                want: true,
            },
            Case {
                pattern: "*b*d",
                text: "abcde",
                want: false,
            },
            Case {
                pattern: "arn:aws:iam::*:user/*",
                text: "arn:aws:iam::1:user/x",
                want: true,
            },
            Case {
                pattern: "a*a*a*a*b",
                text: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                want: false,
            },
            Case {
                pattern: "**",
                text: "x",
                want: true,
            },
            Case {
                pattern: "?",
                text: "",
                want: false,
            },
        ];
        for c in cases {
            let g = Glob::from_text(c.pattern, false);
            assert_eq!(
                g.matches_plain(c.text, false),
                c.want,
                "{} vs {}",
                c.pattern,
                c.text
            );
        }
    }

    #[test]
    fn fold_is_case_insensitive_for_actions() {
        let g = Glob::from_text("Host:Log*", true);
        assert!(g.matches_plain("host:login", true));
        assert!(g.matches_plain("HOST:LOGIN", true));
        assert!(!Glob::from_text("Host:Login", false).matches_plain("host:login", false));
    }

    #[test]
    fn escaped_star_from_variable_is_literal() {
        let t = Template::parse("a${*}", true).unwrap();
        let g = Glob::compile(&t, false);
        assert!(g.matches_plain("a*", false));
        assert!(!g.matches_plain("ab", false));
    }

    #[test]
    fn variable_values_are_literal() {
        let t = Template::parse("home/${aws:username}/*", true).unwrap();
        let g = Glob::compile(&t, false);
        let mut m = Missing::default();
        let ctx = Context::new().with("aws:username", "a*");
        assert!(g.matches("home/a*/x", false, &ctx, &mut m));
        assert!(!g.matches("home/ab/x", false, &ctx, &mut m));
        assert!(!g.matches("home/a*/x", false, &Context::new(), &mut m));
    }
}
