//! `${...}` substitution in application arguments (`pbx_substitute_variables_helper`): channel
//! variables, globals, the built-in variables and a few functions.

use super::Pbx;
use super::channel::ChanId;

/// Where the `}` closing the `${` that starts at `open` is (nesting counted).
fn closing(text: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < text.len() {
        if text[i] == b'$' && text.get(i + 1) == Some(&b'{') {
            depth += 1;
            i += 2;
            continue;
        }
        if text[i] == b'}' {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

impl Pbx {
    /// `text` with every `${name}` replaced (unknown names by nothing).
    pub(super) fn substitute(&self, id: ChanId, text: &str) -> String {
        self.substitute_depth(id, text, 0)
    }

    fn substitute_depth(&self, id: ChanId, text: &str, depth: u8) -> String {
        if depth > 8 {
            return String::new();
        }
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$'
                && bytes.get(i + 1) == Some(&b'{')
                && let Some(end) = closing(bytes, i)
            {
                let inner = self.substitute_depth(id, &text[i + 2..end], depth + 1);
                out.push_str(&self.value(id, &inner));
                i = end + 1;
                continue;
            }
            let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8();
        }
        out
    }

    /// The value of a variable or function call `name` on the channel.
    fn value(&self, id: ChanId, name: &str) -> String {
        let Some(c) = self.chans.get(&id) else { return String::new() };
        if let Some(open) = name.find('(')
            && name.ends_with(')')
        {
            let func = name[..open].to_ascii_uppercase();
            let arg = name[open + 1..name.len() - 1].trim().to_ascii_lowercase();
            return match (func.as_str(), arg.as_str()) {
                ("CALLERID", "num") => c.caller.num.clone(),
                ("CALLERID", "name") => c.caller.name.clone(),
                ("CALLERID", "all") => format!("\"{}\" <{}>", c.caller.name, c.caller.num),
                ("CDR", "userfield") => c.cdr.userfield.clone(),
                ("GLOBAL", _) => {
                    let var = &name[open + 1..name.len() - 1];
                    self.globals.get(var.trim()).cloned().unwrap_or_default()
                }
                _ => String::new(),
            };
        }
        // `${VAR:offset[:length]}`
        let (var, range) = match name.split_once(':') {
            Some((v, r)) => (v, Some(r)),
            None => (name, None),
        };
        let value = match var {
            "EXTEN" => c.exten.clone(),
            "CONTEXT" => c.context.clone(),
            "PRIORITY" => c.priority.to_string(),
            "CHANNEL" => c.name.clone(),
            "UNIQUEID" => c.uniqueid.clone(),
            "EPOCH" => self.unix_secs(self.now).to_string(),
            _ => c.vars.get(var).or_else(|| self.globals.get(var)).cloned().unwrap_or_default(),
        };
        match range {
            None => value,
            Some(r) => {
                let mut parts = r.split(':');
                let len = value.chars().count() as i64;
                let off: i64 = parts.next().and_then(|o| o.trim().parse().ok()).unwrap_or(0);
                let start = if off < 0 { len.saturating_add(off).max(0) } else { off.min(len) };
                let count = match parts.next().and_then(|l| l.trim().parse::<i64>().ok()) {
                    Some(l) if l < 0 => (len - start).saturating_add(l).max(0),
                    Some(l) => l,
                    None => len - start,
                };
                let (skip, take) = (usize::try_from(start), usize::try_from(count));
                value.chars().skip(skip.unwrap_or(0)).take(take.unwrap_or(0)).collect()
            }
        }
    }
}
