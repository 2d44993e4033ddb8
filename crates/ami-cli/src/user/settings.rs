//! The options that describe a user (`ami user add` and `set`), turned into the editor's
//! [`UserSettings`].

use std::path::PathBuf;

use ami_proto::config::edit::{
    AclRule, DEFAULT_SECRET_LENGTH, FilterLine, SetVar, Setting, UserSettings, generate_secret,
};
use ami_proto::perm::{Privilege, Strictness, parse_perm};

use ami_tokio::Secret;

use crate::error::CliError;

/// `yes`, `no` or `default` (remove the line: Asterisk's default applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Toggle {
    /// Write `yes`.
    Yes,
    /// Write `no`.
    No,
    /// Remove the user's line.
    Default,
}

impl Toggle {
    fn setting(self) -> Setting<bool> {
        match self {
            Toggle::Yes => Setting::Set(true),
            Toggle::No => Setting::Set(false),
            Toggle::Default => Setting::Unset,
        }
    }
}

/// Where the new secret comes from. Never from the command line itself.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SecretArgs {
    /// Read the user's secret from this environment variable
    #[arg(long, value_name = "VAR", group = "new_secret")]
    pub secret_env: Option<String>,
    /// Read the user's secret from this file (`-`: standard input; one trailing newline is
    /// ignored)
    #[arg(long, value_name = "FILE", group = "new_secret")]
    pub secret_file: Option<PathBuf>,
    /// Generate a random secret (letters and digits, from the OS's CSPRNG)
    #[arg(long, group = "new_secret")]
    pub generate_secret: bool,
    /// Length of a generated secret (16 to 256)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SECRET_LENGTH, requires = "generate_secret")]
    pub secret_length: usize,
    /// Print the generated secret (it is never printed otherwise)
    #[arg(long, requires = "generate_secret")]
    pub show_secret: bool,
    /// Write the generated secret to FILE (mode 0600, replaced atomically)
    #[arg(long, value_name = "FILE", requires = "generate_secret")]
    pub secret_out: Option<PathBuf>,
}

impl SecretArgs {
    /// The new secret, if one was asked for.
    pub fn secret(&self) -> Result<Option<Secret>, CliError> {
        if let Some(var) = &self.secret_env {
            let value = std::env::var(var).map_err(|_| {
                CliError::Usage(format!(
                    "the environment variable {var} (from --secret-env) is not set or not UTF-8"
                ))
            })?;
            return Ok(Some(Secret::new(value)));
        }
        if let Some(path) = &self.secret_file {
            let text = if path.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
                    CliError::Usage(format!("cannot read the secret from standard input: {e}"))
                })?;
                s
            } else {
                std::fs::read_to_string(path).map_err(|e| {
                    CliError::Usage(format!("cannot read the secret file {}: {e}", path.display()))
                })?
            };
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            return Ok(Some(Secret::new(text)));
        }
        if self.generate_secret {
            let secret = generate_secret(self.secret_length, getrandom::fill)
                .map_err(|e| CliError::Usage(format!("cannot generate a secret: {e}")))?;
            return Ok(Some(Secret::new(secret)));
        }
        Ok(None)
    }
}

/// The settings of a user, as options.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct UserOptions {
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Event classes the user receives, e.g. `call,cdr` (exact class names, `all` or `none`)
    #[arg(long, value_name = "CLASSES")]
    pub read: Option<String>,
    /// Action classes the user may run, e.g. `originate` (exact class names, `all` or `none`)
    #[arg(long, value_name = "CLASSES")]
    pub write: Option<String>,
    /// Only these networks may log in (repeatable): writes `deny = 0.0.0.0/0`, `deny = ::/0`,
    /// then one `permit` per network
    #[arg(long, value_name = "NET")]
    pub permit: Vec<String>,
    /// Networks refused (repeatable), after the --permit ones
    #[arg(long, value_name = "NET")]
    pub deny: Vec<String>,
    /// Named ACLs of acl.conf that must admit the address too (repeatable)
    #[arg(long = "acl", value_name = "NAME")]
    pub named_acl: Vec<String>,
    /// Remove every permit/deny/acl line: every address may log in
    #[arg(long, conflicts_with_all = ["permit", "deny", "named_acl"])]
    pub any_network: bool,
    /// An event filter (repeatable): a regular expression (`Event: Hangup`, `!` excludes) or
    /// `eventfilter(OPTIONS)=EXPR`
    #[arg(long, value_name = "FILTER")]
    pub eventfilter: Vec<String>,
    /// Remove every event filter: the user gets every event its read classes allow
    #[arg(long, conflicts_with = "eventfilter")]
    pub no_eventfilters: bool,
    /// A channel variable set on the user's Originates, NAME=VALUE (repeatable)
    #[arg(long, value_name = "NAME=VALUE")]
    pub setvar: Vec<String>,
    /// Remove every setvar line
    #[arg(long, conflicts_with = "setvar")]
    pub no_setvars: bool,
    /// Log the user's logins in Asterisk's log (`default`: as [general] says)
    #[arg(long, value_enum, value_name = "yes|no|default")]
    pub displayconnects: Option<Toggle>,
    /// Allow several sessions of the user at once (`default`: as [general] says)
    #[arg(long, value_enum, value_name = "yes|no|default")]
    pub allowmultiplelogin: Option<Toggle>,
    /// Milliseconds Asterisk waits for the user's socket before dropping it, at least 100
    /// (`default`: 100)
    #[arg(long, value_name = "MS|default")]
    pub writetimeout: Option<String>,
}

/// Exact class names, as a mask; quirks `get_perm` would read differently are refused.
pub fn classes(option: &str, value: &str) -> Result<Privilege, CliError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(CliError::Usage(format!(
            "--{option} needs class names, e.g. `call,cdr` (or `none`)"
        )));
    }
    match parse_perm(value, Strictness::Strict) {
        Ok(p) if value.split(',').all(|c| !c.is_empty()) => Ok(p.privilege),
        Ok(_) => Err(CliError::Usage(format!("--{option} {value:?}: remove the empty item"))),
        Err(e) => Err(CliError::Usage(format!(
            "--{option} {value:?}: {e} (write exact class names separated by commas, e.g. call,cdr)"
        ))),
    }
}

/// `--eventfilter`: `eventfilter…=EXPR` or a legacy expression.
fn filter_line(arg: &str) -> FilterLine {
    match arg.split_once('=') {
        Some((key, value)) if key.trim_end().starts_with("eventfilter") => {
            FilterLine::new(key.trim_end(), value.trim_start())
        }
        _ => FilterLine::legacy(arg),
    }
}

impl UserOptions {
    /// The editor's settings (the secret comes separately, read once).
    pub fn settings(&self, secret: Option<&Secret>) -> Result<UserSettings, CliError> {
        let mut s = UserSettings {
            secret: secret.map(|s| Setting::Set(s.expose().to_owned())),
            ..UserSettings::default()
        };
        if let Some(v) = &self.read {
            s.read = Some(classes("read", v)?);
        }
        if let Some(v) = &self.write {
            s.write = Some(classes("write", v)?);
        }
        if self.any_network {
            s.acl = Some(Vec::new());
        } else if !self.permit.is_empty() || !self.deny.is_empty() || !self.named_acl.is_empty() {
            let mut rules =
                if self.permit.is_empty() { Vec::new() } else { AclRule::only_from(&self.permit) };
            rules.extend(self.deny.iter().map(AclRule::deny));
            rules.extend(self.named_acl.iter().map(AclRule::named));
            s.acl = Some(rules);
        }
        if self.no_eventfilters {
            s.event_filters = Some(Vec::new());
        } else if !self.eventfilter.is_empty() {
            s.event_filters = Some(self.eventfilter.iter().map(|f| filter_line(f)).collect());
        }
        if self.no_setvars {
            s.setvars = Some(Vec::new());
        } else if !self.setvar.is_empty() {
            let vars = self
                .setvar
                .iter()
                .map(|v| match v.split_once('=') {
                    Some((name, value)) => {
                        Ok(SetVar { name: name.to_owned(), value: value.to_owned() })
                    }
                    None => Err(CliError::Usage(format!("--setvar {v:?}: write NAME=VALUE"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            s.setvars = Some(vars);
        }
        s.display_connects = self.displayconnects.map(Toggle::setting);
        s.allow_multiple_login = self.allowmultiplelogin.map(Toggle::setting);
        if let Some(v) = &self.writetimeout {
            s.write_timeout_ms = Some(if v == "default" {
                Setting::Unset
            } else {
                Setting::Set(v.parse().map_err(|_| {
                    CliError::Usage(format!(
                        "--writetimeout {v:?}: write a number of milliseconds (at least 100) or \
                         `default`"
                    ))
                })?)
            });
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_exact() {
        assert_eq!(classes("read", "call,cdr").unwrap(), Privilege::CALL | Privilege::CDR);
        assert_eq!(classes("read", "none").unwrap(), Privilege::NONE);
        assert_eq!(classes("read", "all").unwrap(), Privilege::ALL);
        for bad in [",call", "call,,cdr", "sys,call", "Call", "call, cdr", "", "call,"] {
            assert!(matches!(classes("read", bad), Err(CliError::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn options_become_settings() {
        let o = UserOptions {
            read: Some("call".into()),
            permit: vec!["10.0.0.0/8".into()],
            deny: vec!["10.9.0.0/16".into()],
            named_acl: vec!["office".into()],
            eventfilter: vec!["Event: Hangup".into(), "eventfilter(name(DialEnd)) =".into()],
            setvar: vec!["A=b=c".into()],
            writetimeout: Some("default".into()),
            displayconnects: Some(Toggle::No),
            ..UserOptions::default()
        };
        let s = o.settings(None).unwrap();
        assert_eq!(s.read, Some(Privilege::CALL));
        assert_eq!(s.write, None);
        let rules: Vec<(&str, &str)> =
            s.acl.as_ref().unwrap().iter().map(|r| (r.kind.key(), r.value.as_str())).collect();
        assert_eq!(
            rules,
            [
                ("deny", "0.0.0.0/0"),
                ("deny", "::/0"),
                ("permit", "10.0.0.0/8"),
                ("deny", "10.9.0.0/16"),
                ("acl", "office")
            ]
        );
        let filters = s.event_filters.unwrap();
        assert_eq!(filters[0], FilterLine::legacy("Event: Hangup"));
        assert_eq!(filters[1], FilterLine::new("eventfilter(name(DialEnd))", ""));
        assert_eq!(s.setvars.unwrap(), [SetVar { name: "A".into(), value: "b=c".into() }]);
        assert_eq!(s.write_timeout_ms, Some(Setting::Unset));
        assert_eq!(s.display_connects, Some(Setting::Set(false)));
        let o = UserOptions { writetimeout: Some("fast".into()), ..UserOptions::default() };
        assert!(matches!(o.settings(None), Err(CliError::Usage(_))));
    }
}
