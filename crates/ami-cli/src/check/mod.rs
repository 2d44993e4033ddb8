//! `ami check manager.conf`: load the file as Asterisk would and report what it grants.
//!
//! The file is loaded by `ami_proto::config::parse_manager_conf` in Asterisk-compatible mode,
//! with `#include`s read from disk ([`include`]) and named ACLs from acl.conf. The report lists,
//! per user, the effective read and write classes, the network filter and the event filters,
//! followed by findings (`ami_proto::config::findings`, shared with the editor behind
//! `ami user`) with a stable code, a severity and a hint.
//! Exit status: 0 = no error, 1 = the file does not load or a finding is an error, 2 = usage.

pub(crate) mod include;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use ami_proto::acl::NamedAcls;
use ami_proto::authority::list_commands;
use ami_proto::config::findings::{self, CheckReport, Finding, Severity, UserCheck};
use ami_proto::config::reach::Reach;
use ami_proto::config::{
    ConfigError, ConfigErrorKind, ConfigOptions, MANAGER_CONF, ManagerConfig, User, parse_acl_conf,
    parse_manager_conf,
};
use ami_proto::perm::{CLASSES, Privilege};
use serde_json::{Value, json};

use crate::proxy::config::{ProxySections, SecretSource, is_upstream_section, parse_sections};
use include::FsResolver;

/// Arguments of `ami check`.
#[derive(Debug, clap::Args)]
// The doc comment of `Command::Check` in main.rs sets `about`/`long_about`, so everything
// else goes in `after_help`.
#[command(after_help = "\
Per user: effective read and write classes, network filter (permit/deny/acl) and event
filters, then findings with a stable code, file:line and a hint. Secrets are never printed.

Findings: shell-write (write system/command), config-write, agi-write, originate-escalation,
open-network, ipv6-open, perm-quirk (spec 4.2: `,call` or `c,log` grant more than they
seem), perm-ignored, never-login (no secret, ACL admits nobody), acl-deletes-user,
empty-secret, weak-secret, invalid-port, and every ignored or surprising line.

#include/#tryinclude paths are resolved like Asterisk does, relative to the configuration
directory (the directory of CONFIG); `*` and `?` work in the last path component.

Exit status: 0 = no errors (warnings allowed); 1 = the file does not load, or an error
(acl-deletes-user, empty-secret, invalid-port; with --strict also every dangerous grant);
2 = bad usage.

Examples:
  ami check /etc/asterisk/manager.conf
  ami check --strict /etc/asterisk/manager.conf   # fail on any dangerous grant
  ami check --acl-conf /etc/asterisk/acl.conf manager.conf
  ami check --json manager.conf | jq '.users[] | {name, write, codes: [.findings[].code]}'")]
pub struct CheckArgs {
    /// The manager.conf to load
    pub config: PathBuf,
    /// Print the report as one JSON document
    #[arg(long)]
    pub json: bool,
    /// Treat dangerous grants (shell-write, config-write, agi-write, originate-escalation,
    /// open-network, ipv6-open, perm-quirk, weak-secret) as errors
    #[arg(long)]
    pub strict: bool,
    /// The acl.conf defining the named ACLs of `acl = name` lines (default: acl.conf next to
    /// the checked file, if any)
    #[arg(long, value_name = "FILE")]
    pub acl_conf: Option<PathBuf>,
}

/// The whole report.
#[derive(Debug)]
struct Report<'a> {
    /// The checked file as given.
    path: &'a Path,
    /// The acl.conf used, if any.
    acl_conf: Option<PathBuf>,
    /// The loaded configuration.
    cfg: &'a ManagerConfig,
    /// The findings of the configuration.
    check: CheckReport,
    /// The upstream sections, for an `ami proxy` configuration.
    proxy: Option<ProxySections>,
    /// What `ami bridge` makes of the file (its `[nats]` settings and roles), if it is one.
    bridge: Option<Vec<String>>,
}

impl Report<'_> {
    /// How many findings have `severity`.
    fn count(&self, severity: Severity) -> usize {
        self.check.count(severity)
    }

    /// The users Asterisk keeps, with their loaded settings.
    fn users(&self) -> impl Iterator<Item = (&UserCheck, &User)> {
        self.check.users.iter().filter_map(|u| Some((u, self.cfg.users.get(u.index)?)))
    }
}

/// Runs `ami check`; exit 0 = loaded without errors, 1 = errors (or unreadable file).
pub fn run(args: &CheckArgs) -> ExitCode {
    let (text, lossy) = match include::read_limited(&args.config) {
        Ok(t) => t,
        Err(kind) => {
            eprintln!(
                "ami check: error: cannot read {}: {}\n  hint: pass the path of a readable \
                 manager.conf",
                args.config.display(),
                describe_io(kind),
            );
            if args.json {
                let message = format!("cannot read: {}", describe_io(kind));
                let shown = args.config.display().to_string();
                print_json_failure(
                    &args.config,
                    &shown,
                    0,
                    &message,
                    "pass a readable manager.conf",
                );
            }
            return ExitCode::from(1);
        }
    };
    let config_dir = match args.config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut lossy_files: Vec<String> = Vec::new();
    if lossy {
        lossy_files.push(MANAGER_CONF.to_owned());
    }
    let (named_acls, acl_conf) = match load_named_acls(args, &config_dir, &mut lossy_files) {
        Ok(found) => found,
        Err(()) => return ExitCode::from(1),
    };
    let opts = ConfigOptions { named_acls, ..ConfigOptions::default() };
    let mut resolver = FsResolver::new(config_dir.clone());
    let cfg = match parse_manager_conf(&text, &mut resolver, &opts) {
        Ok(cfg) => cfg,
        Err(e) => {
            report_fatal(&args.config, &args.config, &config_dir, &e, args.json);
            return ExitCode::from(1);
        }
    };
    lossy_files.append(&mut resolver.lossy);
    // A proxy configuration (`ami proxy`): its [upstream:NAME] sections are not users.
    let mut cfg = cfg;
    let mut proxy = None;
    let mut proxy_error = None;
    let bridge_file = crate::bridge::config::looks_like_bridge(&text);
    // A bridge's [upstream:NAME] sections are the bridge's (below), not a proxy's.
    if !bridge_file && cfg.users.iter().any(|u| is_upstream_section(&u.name)) {
        match parse_sections(MANAGER_CONF, &text) {
            Ok(sections) => {
                sections.strip(&mut cfg);
                proxy = Some(sections);
            }
            Err(e) => proxy_error = Some(e),
        }
    }
    // A bridge configuration (`ami bridge`): [nats] is not a user, roles need no secret.
    let mut bridge_error = None;
    let mut bridge_lines = None;
    if bridge_file {
        match crate::bridge::config::load(MANAGER_CONF, &text) {
            Ok(b) => {
                cfg.users.retain(|u| !crate::bridge::config::is_bridge_section(&u.name));
                cfg.diagnostics = b.manager.diagnostics.clone();
                bridge_lines = Some(bridge_summary(&b));
            }
            Err(e) => bridge_error = Some(e),
        }
    }
    let mut report = Report {
        path: &args.config,
        acl_conf,
        cfg: &cfg,
        check: findings::check(&cfg, args.strict),
        proxy: None,
        bridge: None,
    };
    if bridge_lines.is_some() {
        // The bridge has no AMI listener: `enabled` means nothing there.
        report.check.global.retain(|f| f.code != "ami-disabled");
    }
    report.bridge = bridge_lines;
    if let Some(e) = bridge_error {
        report.check.global.push(Finding {
            severity: Severity::Error,
            code: "bridge-config",
            file: Arc::from(MANAGER_CONF),
            line: e.line,
            message: format!("`ami bridge` cannot use this file: {}", e.message),
            hint: "fix the [nats], [upstream:NAME] or role section (see `ami bridge --help`)"
                .to_owned(),
            user: None,
        });
    }
    if let Some(e) = proxy_error {
        report.check.global.push(Finding {
            severity: Severity::Error,
            code: "proxy-config",
            file: Arc::from(MANAGER_CONF),
            line: e.line,
            message: format!("`ami proxy` cannot use this file: {}", e.message),
            hint: "fix the [upstream:NAME] section (see `ami proxy --help`)".to_owned(),
            user: None,
        });
    }
    if let Some(sections) = &proxy {
        report.check.global.extend(upstream_findings(sections, args.strict));
    }
    report.proxy = proxy;
    for file in lossy_files {
        report.check.global.push(Finding {
            severity: Severity::Warning,
            code: "not-utf8",
            file: Arc::from(file),
            line: 0,
            message: "the file is not valid UTF-8: its invalid bytes were read as U+FFFD, \
                      so names and values containing them may differ from what Asterisk sees"
                .to_owned(),
            hint: "convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`)".to_owned(),
            user: None,
        });
    }
    report.check.global.sort_by_key(|f| f.severity);
    if args.json {
        println!("{:#}", to_json(&report));
    } else {
        print!("{}", to_text(&report));
    }
    if report.count(Severity::Error) > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// The named ACLs to use and the file they came from; `Err` after printing the error.
fn load_named_acls(
    args: &CheckArgs,
    config_dir: &Path,
    lossy_files: &mut Vec<String>,
) -> Result<(NamedAcls, Option<PathBuf>), ()> {
    let path = match &args.acl_conf {
        Some(p) => p.clone(),
        None => {
            let p = config_dir.join("acl.conf");
            if !p.is_file() {
                return Ok((NamedAcls::default(), None));
            }
            p
        }
    };
    let text = match include::read_limited(&path) {
        Ok((text, lossy)) => {
            if lossy {
                lossy_files.push(path.display().to_string());
            }
            text
        }
        Err(kind) => {
            eprintln!(
                "ami check: error: cannot read {}: {}\n  hint: pass a readable acl.conf with \
                 --acl-conf",
                path.display(),
                describe_io(kind)
            );
            if args.json {
                let message = format!("cannot read: {}", describe_io(kind));
                let hint = "pass a readable acl.conf with --acl-conf";
                print_json_failure(&args.config, &path.display().to_string(), 0, &message, hint);
            }
            return Err(());
        }
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let mut resolver = FsResolver::new(dir.clone());
    let result = parse_acl_conf(&text, &mut resolver);
    lossy_files.append(&mut resolver.lossy);
    match result {
        Ok(acls) => Ok((acls, Some(path))),
        Err(e) => {
            report_fatal(&args.config, &path, &dir, &e, args.json);
            Err(())
        }
    }
}

/// An I/O error kind in words.
pub(crate) fn describe_io(kind: std::io::ErrorKind) -> String {
    match kind {
        std::io::ErrorKind::FileTooLarge => "larger than 16 MiB".to_owned(),
        other => other.to_string(),
    }
}

/// The name shown for a file of a finding: the checked path for the top-level file.
pub(crate) fn file_name(file: &Arc<str>, path: &Path) -> String {
    if &**file == MANAGER_CONF { path.display().to_string() } else { file.to_string() }
}

/// What to do about a fatal error.
fn fatal_hint(kind: &ConfigErrorKind, config_dir: &Path) -> String {
    match kind {
        ConfigErrorKind::MissingCloseBracket => "close the section header with `]`".to_owned(),
        ConfigErrorKind::MissingCloseParen => "close the option list with `)`".to_owned(),
        ConfigErrorKind::AppendTargetMissing { .. } => {
            "define the section before appending to it with `(+)`, or drop the `(+)`".to_owned()
        }
        ConfigErrorKind::InheritTargetMissing { .. } => {
            "define the template before the sections that inherit from it, or fix its name"
                .to_owned()
        }
        ConfigErrorKind::UnsupportedAppendFilter { .. } => {
            "name the section to append to explicitly instead of `(+filter)`".to_owned()
        }
        ConfigErrorKind::NoCategory => {
            "put the line inside a section: add `[general]` or `[username]` above it".to_owned()
        }
        ConfigErrorKind::InvalidEscape => "remove the `\\` before the key".to_owned(),
        ConfigErrorKind::CommentNestingTooDeep => "close the `;--` block comments".to_owned(),
        ConfigErrorKind::IncludeNotFound { .. } => format!(
            "create the file or fix the path (relative paths are resolved against {}), or use \
             #tryinclude for an optional file",
            config_dir.display()
        ),
        ConfigErrorKind::IncludeFailed { .. } => {
            "make the included file readable UTF-8 text, or fix the path".to_owned()
        }
        ConfigErrorKind::IncludeDepthExceeded { .. } | ConfigErrorKind::IncludeCycle { .. } => {
            "remove the recursive #include".to_owned()
        }
        ConfigErrorKind::LimitExceeded(_) => "split or shrink the configuration".to_owned(),
        ConfigErrorKind::AclGeneralCategory
        | ConfigErrorKind::AclUnknownOption { .. }
        | ConfigErrorKind::AclRule { .. } => {
            "fix acl.conf: only named sections with permit/deny rules are allowed".to_owned()
        }
        _ => "fix the line".to_owned(),
    }
}

/// Prints a fatal load error of `path` (the checked file `checked` or its acl.conf): where,
/// what, what Asterisk does, what to do.
fn report_fatal(checked: &Path, path: &Path, config_dir: &Path, e: &ConfigError, json: bool) {
    let file = if &*e.file == MANAGER_CONF || &*e.file == ami_proto::config::ACL_CONF {
        path.display().to_string()
    } else {
        e.file.to_string()
    };
    let hint = fatal_hint(&e.kind, config_dir);
    eprintln!(
        "ami check: {file}:{}: error: {}\n  Asterisk rejects the whole file (AMI stays disabled \
         at startup, a reload keeps the old settings).\n  hint: {hint}",
        e.line, e.kind
    );
    if json {
        print_json_failure(checked, &file, e.line, &e.kind.to_string(), &hint);
    }
}

/// The `--json` document of a check that could not load the configuration.
fn print_json_failure(checked: &Path, file: &str, line: u32, message: &str, hint: &str) {
    let doc = json!({
        "file": checked.display().to_string(),
        "loaded": false,
        "error": {"file": file, "line": line, "message": message, "hint": hint},
        "users": [],
        "deleted_users": [],
        "findings": [],
        "errors": 1,
        "warnings": 0,
    });
    println!("{doc}");
}

/// The labels of the classes in `p`: `all` alone for every class, empty for none.
fn class_list(p: Privilege) -> Vec<&'static str> {
    if p == Privilege::ALL {
        return vec!["all"];
    }
    CLASSES
        .iter()
        .filter(|&&(label, class)| {
            label != "all" && label != "none" && !class.is_empty() && p.contains(class)
        })
        .map(|&(label, _)| label)
        .collect()
}

/// Rendered classes: `all`, `none` or the labels.
pub(crate) fn class_text(p: Privilege) -> String {
    let list = class_list(p);
    if list.is_empty() { "none".to_owned() } else { list.join(",") }
}

/// The ACL rules, one string per rule (`acl NAME: …` for named ACLs).
fn acl_rules(user: &User) -> Vec<String> {
    let mut out = Vec::new();
    for (name, acl) in user.acl.iter() {
        let prefix = if name.is_empty() { String::new() } else { format!("acl {name}: ") };
        if acl.is_undefined() || acl.rules().is_empty() {
            out.push(format!("{prefix}{acl}"));
        }
        for rule in acl.rules() {
            out.push(format!("{prefix}{rule}"));
        }
    }
    out
}

/// One line describing the network filter.
fn network_text(user: &User, reach: Reach) -> String {
    if user.acl.is_empty() {
        return "any address (no permit/deny/acl lines)".to_owned();
    }
    let verdict = if reach.open_to_all() {
        "admits every address"
    } else if reach.admits_none() {
        "admits no address"
    } else if reach.all_v6 {
        "restricts IPv4 only; every IPv6 address is admitted"
    } else if reach.all_v4 {
        "restricts IPv6 only; every IPv4 address is admitted"
    } else {
        "restricted"
    };
    format!("{} ({verdict})", user.acl)
}

/// `file:line` of a finding (`file` alone for line 0).
pub(crate) fn location(f: &Finding, path: &Path) -> String {
    let file = file_name(&f.file, path);
    if f.line == 0 { file } else { format!("{file}:{}", f.line) }
}

/// Appends one finding in the human format.
pub(crate) fn finding_text(out: &mut String, f: &Finding, path: &Path, indent: &str) {
    out.push_str(&format!(
        "{indent}{}[{}] {}: {}\n{indent}    hint: {}\n",
        f.severity.word(),
        f.code,
        location(f, path),
        f.message,
        f.hint
    ));
}

/// The human-readable report.
fn to_text(r: &Report<'_>) -> String {
    let g = &r.cfg.general;
    let mut out = format!(
        "{}: {} user{}{}; AMI {} on {}:{}{}{}\n",
        r.path.display(),
        r.check.users.len(),
        if r.check.users.len() == 1 { "" } else { "s" },
        if r.check.deleted.is_empty() {
            String::new()
        } else {
            format!(" ({} more deleted by Asterisk)", r.check.deleted.len())
        },
        if g.enabled { "enabled" } else { "disabled" },
        if g.bind_addr.is_ipv6() { format!("[{}]", g.bind_addr) } else { g.bind_addr.to_string() },
        g.port,
        if g.tls.enabled { ", TLS enabled" } else { "" },
        if g.web_enabled { ", HTTP enabled" } else { "" },
    );
    if let Some(acl) = &r.acl_conf {
        out.push_str(&format!("named ACLs from {}\n", acl.display()));
    }
    if let Some(p) = &r.proxy {
        out.push_str("ami proxy configuration; upstream servers:\n");
        for u in &p.upstreams {
            out.push_str(&format!(
                "  [upstream:{}] (line {}) {}:{} as {}, {} login, {}, secret from {}\n",
                u.name,
                u.line,
                u.host,
                u.port,
                u.username,
                if u.method == ami_proto::client::LoginMethod::Md5 { "MD5" } else { "plain" },
                if u.tls.is_some() { "TLS" } else { "no TLS" },
                secret_source_text(&u.secret_source),
            ));
        }
    }
    if let Some(lines) = &r.bridge {
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
    }
    for (u, user) in r.users() {
        let upstream = r.proxy.as_ref().map(|p| bound_upstream(p, &user.name));
        user_text(&mut out, u, user, r.path, upstream.as_deref());
    }
    for d in &r.check.deleted {
        out.push_str(&format!(
            "\n[{}] DELETED by Asterisk: logins fail as for an unknown user\n",
            d.name
        ));
        for f in &d.findings {
            finding_text(&mut out, f, r.path, "  ");
        }
    }
    if !r.check.global.is_empty() {
        out.push('\n');
        for f in &r.check.global {
            finding_text(&mut out, f, r.path, "");
        }
    }
    let (errors, warnings) = (r.count(Severity::Error), r.count(Severity::Warning));
    out.push_str(&format!(
        "\n{errors} error{}, {warnings} warning{}\n",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    ));
    out
}

/// One user's block of the human report: its effective rights, then its findings. `path` is
/// the checked manager.conf (findings in it are shown under that name).
pub(crate) fn user_text(
    out: &mut String,
    u: &UserCheck,
    user: &User,
    path: &Path,
    upstream: Option<&str>,
) {
    out.push_str(&format!("\n[{}] ({}:{})\n", user.name, file_name(&user.file, path), user.line));
    out.push_str(&format!("  secret:  {}\n", u.secret.word()));
    if let Some(upstream) = upstream {
        out.push_str(&format!("  upstream: {upstream}\n"));
    }
    out.push_str(&format!("  read:    {}\n", class_text(user.read)));
    let actions = privileged_actions(user.write);
    out.push_str(&format!(
        "  write:   {} ({actions} privileged action{})\n",
        class_text(user.write),
        if actions == 1 { "" } else { "s" }
    ));
    out.push_str(&format!("  network: {}\n", network_text(user, u.reach)));
    if user.filters.is_empty() {
        out.push_str("  filters: none (every event its read classes allow)\n");
    } else {
        out.push_str("  filters:\n");
        for f in user.filters.iter() {
            out.push_str(&format!("    {f}\n"));
        }
    }
    for f in &u.findings {
        finding_text(out, f, path, "  ");
    }
}

/// One user of the JSON report.
pub(crate) fn user_json(
    u: &UserCheck,
    user: &User,
    path: &Path,
    upstream: Option<String>,
) -> Value {
    json!({
        "name": user.name,
        "file": file_name(&user.file, path),
        "line": user.line,
        "secret": u.secret.word(),
        "read": class_list(user.read),
        "write": class_list(user.write),
        "privileged_actions": privileged_actions(user.write),
        "acl": acl_rules(user),
        "open_to_all": u.reach.open_to_all(),
        "admits_none": u.reach.admits_none(),
        "filters": user.filters.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "allow_multiple_login": user.allow_multiple_login,
        "upstream": upstream,
        "findings": u.findings.iter().map(|f| finding_json(f, path)).collect::<Vec<_>>(),
    })
}

/// Actions with a non-zero authority that `write` may run.
fn privileged_actions(write: Privilege) -> usize {
    list_commands(write).filter(|a| !a.authority.is_empty()).count()
}

/// A finding as JSON.
pub(crate) fn finding_json(f: &Finding, path: &Path) -> Value {
    json!({
        "severity": f.severity.word(),
        "code": f.code,
        "file": file_name(&f.file, path),
        "line": f.line,
        "user": f.user,
        "message": f.message,
        "hint": f.hint,
    })
}

/// The JSON report.
fn to_json(r: &Report<'_>) -> Value {
    let g = &r.cfg.general;
    let users: Vec<Value> = r
        .users()
        .map(|(u, user)| {
            let upstream = r.proxy.as_ref().map(|p| bound_upstream(p, &user.name));
            user_json(u, user, r.path, upstream)
        })
        .collect();
    let deleted: Vec<Value> = r
        .check
        .deleted
        .iter()
        .map(|d| {
            json!({
                "name": d.name,
                "findings": d.findings.iter().map(|f| finding_json(f, r.path)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "file": r.path.display().to_string(),
        "loaded": true,
        "acl_conf": r.acl_conf.as_ref().map(|p| p.display().to_string()),
        "general": {
            "enabled": g.enabled,
            "webenabled": g.web_enabled,
            "port": g.port,
            "bindaddr": g.bind_addr.to_string(),
            "tlsenable": g.tls.enabled,
            "tlsbindaddr": g.tls.bind_addr,
            "allowmultiplelogin": g.allow_multiple_login,
            "authtimeout": g.auth_timeout,
            "authlimit": g.auth_limit,
        },
        "upstreams": r.proxy.as_ref().map(|p| p.upstreams.iter().map(|u| json!({
            "name": u.name,
            "line": u.line,
            "host": u.host,
            "port": u.port,
            "username": u.username,
            "auth": if u.method == ami_proto::client::LoginMethod::Md5 { "md5" } else { "plain" },
            "tls": u.tls.is_some(),
            "secret_from": secret_source_text(&u.secret_source),
        })).collect::<Vec<_>>()),
        "bridge": r.bridge,
        "users": users,
        "deleted_users": deleted,
        "findings": r.check.global.iter().map(|f| finding_json(f, r.path)).collect::<Vec<_>>(),
        "errors": r.count(Severity::Error),
        "warnings": r.count(Severity::Warning),
    })
}

/// What `ami bridge` makes of a configuration, one line each: NATS, the streams, each role's
/// subjects and PBXs.
fn bridge_summary(b: &crate::bridge::config::BridgeConfig) -> Vec<String> {
    let n = &b.nats;
    let mut out = vec![format!(
        "ami bridge configuration: NATS {}; streams {}_<ROLE> ({:?}, {} replica(s), max age {:?}, \
         dedup window {:?}); lease {:?}; buffer {} events / {} bytes per PBX; snapshot: {}",
        n.servers.join(", "),
        n.stream,
        n.storage,
        n.replicas,
        n.max_age,
        n.duplicate_window,
        n.lease_ttl,
        n.buffer_events,
        n.buffer_bytes,
        if n.snapshot.is_empty() { "none".to_owned() } else { n.snapshot.join(", ") },
    )];
    for role in &b.roles {
        let pbxs = match &role.pbxs {
            None => "every PBX".to_owned(),
            Some(list) => list
                .iter()
                .filter_map(|i| b.upstreams.upstreams.get(*i).map(|u| u.name.clone()))
                .collect::<Vec<_>>()
                .join(", "),
        };
        out.push(format!(
            "  role {}: stream {}, events on {}.{}.<pbx>.ev.<Event>, actions on {}.{}.<pbx>.act; {pbxs}",
            role.name,
            n.stream_of(role),
            n.subject_prefix,
            role.name,
            n.subject_prefix,
            role.name,
        ));
    }
    out
}

/// The name of the upstream a proxy user reaches.
fn bound_upstream(p: &ProxySections, user: &str) -> String {
    let i = p.bindings.get(&user.to_ascii_lowercase()).copied().unwrap_or(0);
    p.upstreams.get(i).map(|u| u.name.clone()).unwrap_or_default()
}

/// Where an upstream secret comes from, never the secret.
fn secret_source_text(s: &SecretSource) -> String {
    match s {
        SecretSource::Inline => "this file".to_owned(),
        SecretSource::Env(v) => format!("${v}"),
        SecretSource::File(p) => p.display().to_string(),
    }
}

/// Findings about the upstream sections of a proxy configuration.
fn upstream_findings(p: &ProxySections, strict: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let severity = if strict { Severity::Error } else { Severity::Warning };
    for u in &p.upstreams {
        let loopback = u.host == "localhost"
            || u.host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback());
        if u.tls.is_none() && !loopback {
            out.push(Finding {
                severity,
                code: "upstream-cleartext",
                file: Arc::from(MANAGER_CONF),
                line: u.line,
                message: format!(
                    "upstream {} ({}) is reached without TLS: every event and action of all \
                     clients crosses the network in clear",
                    u.name, u.host
                ),
                hint: "set `tls = yes` and `tls_ca = …`, or keep the proxy on the Asterisk host"
                    .to_owned(),
                user: None,
            });
        }
        if u.method == ami_proto::client::LoginMethod::Plain && u.tls.is_none() {
            out.push(Finding {
                severity,
                code: "upstream-plain-login",
                file: Arc::from(MANAGER_CONF),
                line: u.line,
                message: format!(
                    "upstream {} logs in with `auth = plain` without TLS: the proxy's \
                     (full-rights) secret is sent in clear",
                    u.name
                ),
                hint: "use `auth = md5` (the default) or TLS".to_owned(),
                user: None,
            });
        }
        if u.secret_source == SecretSource::Inline {
            out.push(Finding {
                severity: Severity::Info,
                code: "upstream-inline-secret",
                file: Arc::from(MANAGER_CONF),
                line: u.line,
                message: format!("upstream {}: its secret is written in this file", u.name),
                hint: "`secret_env = VAR` or `secret_file = PATH` keeps it out of the file"
                    .to_owned(),
                user: None,
            });
        }
    }
    if !p.strict {
        out.push(Finding {
            severity,
            code: "proxy-not-strict",
            file: Arc::from(MANAGER_CONF),
            line: 0,
            message: "the proxy is not strict: ChallengeResponseFailed events show every \
                      `security` reader the key a failed MD5 login should have sent (with the \
                      challenge, an offline brute-force oracle on that user's secret), and the \
                      upstream's security events about the proxy's own account reach clients"
                .to_owned(),
            hint: "set `strict = yes` in [general]".to_owned(),
            user: None,
        });
    }
    out
}
