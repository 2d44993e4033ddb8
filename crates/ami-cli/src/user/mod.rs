//! `ami user`: list, show, add, change and remove AMI users in manager.conf, safely.
//!
//! The file is loaded as Asterisk loads it (includes from disk, named ACLs from acl.conf) into
//! the lossless editor of `ami_proto::config::edit`, which changes only the lines concerned and
//! refuses any edit that would not re-load to exactly what was asked or that `ami check` calls
//! an error. The tool prints the change as a diff (secrets hidden) and the user's effective
//! rights as `ami check` reports them, writes the files atomically, and says how to apply the
//! change (or does it with `--reload`).
//!
//! Exit status: 0 = done (or nothing to do), 1 = refused or failed, 2 = bad usage.

mod diff;
mod reload;
mod settings;
mod write;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ami_proto::acl::NamedAcls;
use ami_proto::config::edit::{ConfigEditor, Edit, EditOptions, EditReport, Setting};
use ami_proto::config::findings::{Finding, Severity};
use ami_proto::config::{MANAGER_CONF, parse_acl_conf};
use serde_json::{Value, json};

use crate::check::include::{FsResolver, read_limited};
use crate::check::{describe_io, finding_json, finding_text, user_json, user_text};
use ami_tokio::Secret;

use crate::error::CliError;
use reload::ReloadArgs;
use settings::UserOptions;

/// Arguments of `ami user`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every edit changes only the lines it concerns (comments, order, includes, templates and line
endings stay as they are), is loaded again as Asterisk loads it and must grant exactly what was
asked, and is refused if `ami check` would report an error (with --strict, also a dangerous
grant). Its diff is printed with secrets hidden, then the user's rights as `ami check` reports
them. Files are replaced atomically, keeping their permissions (0600 for new files).

Secrets never come from the command line: --secret-env VAR, --secret-file FILE (`-` for
standard input) or --generate-secret (printed only with --show-secret, or written to
--secret-out FILE).

Asterisk reads the change on `manager reload` (CLI: asterisk -rx 'manager reload'; AMI:
Action: Reload, Module: manager, by an account with write system or config), which --reload
HOST:PORT does. Sessions already logged in keep their rights until they log in again.

Examples:
  ami user list /etc/asterisk/manager.conf
  ami user show /etc/asterisk/manager.conf crm
  ami user add /etc/asterisk/manager.conf crm --read call,cdr --write originate \\
      --permit 10.0.0.0/8 --generate-secret --secret-out /root/crm.secret
  ami user set /etc/asterisk/manager.conf crm --write originate,call --dry-run
  AMI_SECRET=... ami user set manager.conf crm --secret-env NEW_SECRET \\
      --reload 127.0.0.1 --reload-user admin
  ami user remove /etc/asterisk/manager.conf crm --json
  ami user enable-ami /etc/asterisk/manager.conf

Exit status: 0 = done, 1 = refused or failed (nothing is written), 2 = bad usage.")]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

/// The `ami user` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// List the users and their rights
    List(FileArgs),
    /// Show one user's rights and findings
    Show(ShowArgs),
    /// Add a user
    Add(Box<AddArgs>),
    /// Change a user's secret, classes, network, filters or settings, or rename it
    Set(Box<SetArgs>),
    /// Remove a user
    Remove(Box<RemoveArgs>),
    /// Turn AMI on: `enabled = yes` in [general]
    EnableAmi(Box<GeneralArgs>),
    /// Turn AMI off: `enabled = no` in [general]
    DisableAmi(Box<GeneralArgs>),
}

/// The file and how to read it.
#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// The manager.conf
    pub config: PathBuf,
    /// Print one JSON document
    #[arg(long)]
    pub json: bool,
    /// The acl.conf of the `acl = name` lines (default: acl.conf next to the file, if any)
    #[arg(long, value_name = "FILE")]
    pub acl_conf: Option<PathBuf>,
}

/// Options of every edit.
#[derive(Debug, clap::Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Show what would change; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse dangerous grants too (`ami check --strict`: shell-equivalent write classes, an
    /// ACL open to everyone, weak secrets, ...)
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub reload: ReloadArgs,
}

/// `ami user show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// The user (any case)
    pub name: String,
}

/// `ami user add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub edit: EditArgs,
    /// The new user's name (letters, digits and -_.@+)
    pub name: String,
    #[command(flatten)]
    pub user: UserOptions,
}

/// `ami user set`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub edit: EditArgs,
    /// The user (any case)
    pub name: String,
    #[command(flatten)]
    pub user: UserOptions,
    /// Remove the secret: nobody can log in as the user (a reload keeps the old secret until
    /// Asterisk restarts: prefer `remove`)
    #[arg(long, conflicts_with = "new_secret")]
    pub no_secret: bool,
    /// Rename the user (after the other changes)
    #[arg(long, value_name = "NEW")]
    pub rename: Option<String>,
}

/// `ami user remove`.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub edit: EditArgs,
    /// The user (any case)
    pub name: String,
}

/// `ami user enable-ami` and `disable-ami`.
#[derive(Debug, clap::Args)]
pub struct GeneralArgs {
    #[command(flatten)]
    pub edit: EditArgs,
}

/// Runs `ami user`.
pub fn run(args: UserArgs) -> ExitCode {
    let json = match &args.command {
        UserCommand::List(a) => a.json,
        UserCommand::Show(a) => a.file.json,
        UserCommand::Add(a) => a.edit.file.json,
        UserCommand::Set(a) => a.edit.file.json,
        UserCommand::Remove(a) => a.edit.file.json,
        UserCommand::EnableAmi(a) | UserCommand::DisableAmi(a) => a.edit.file.json,
    };
    let result = match args.command {
        UserCommand::List(a) => list(&a),
        UserCommand::Show(a) => show(&a),
        UserCommand::Add(a) => add(&a),
        UserCommand::Set(a) => set(&a),
        UserCommand::Remove(a) => {
            edit(&a.edit, &[Edit::RemoveUser { name: a.name.clone() }], None, None, &a.name)
        }
        UserCommand::EnableAmi(a) => edit(&a.edit, &[Edit::SetEnabled(true)], None, None, ""),
        UserCommand::DisableAmi(a) => edit(&a.edit, &[Edit::SetEnabled(false)], None, None, ""),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ami user: {}", e.message);
            if json {
                outln!("{}", json!({"ok": false, "error": e.message}));
            }
            ExitCode::from(e.code)
        }
    }
}

/// A failure: its message and exit status.
#[derive(Debug)]
struct Failure {
    message: String,
    code: u8,
}

impl From<CliError> for Failure {
    fn from(e: CliError) -> Failure {
        Failure { message: e.to_string(), code: e.exit_code() }
    }
}

fn failure(message: impl Into<String>) -> Failure {
    Failure { message: message.into(), code: 1 }
}

/// The named ACLs: from --acl-conf, else acl.conf next to manager.conf if there is one.
fn named_acls(args: &FileArgs, dir: &Path) -> Result<NamedAcls, Failure> {
    let path = match &args.acl_conf {
        Some(p) => p.clone(),
        None => {
            let p = dir.join("acl.conf");
            if !p.is_file() {
                return Ok(NamedAcls::default());
            }
            p
        }
    };
    let (text, _) = read_limited(&path)
        .map_err(|k| failure(format!("cannot read {}: {}", path.display(), describe_io(k))))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    parse_acl_conf(&text, &mut FsResolver::new(base)).map_err(|e| {
        failure(format!("{}:{}: {} (run `ami check` for details)", path.display(), e.line, e.kind))
    })
}

/// Loads the file for editing (`strict`: dangerous grants refuse edits).
fn open(args: &FileArgs, strict: bool) -> Result<ConfigEditor, Failure> {
    let (text, lossy) = read_limited(&args.config).map_err(|k| {
        failure(format!(
            "cannot read {}: {} (pass the path of a readable manager.conf)",
            args.config.display(),
            describe_io(k)
        ))
    })?;
    let not_utf8 = |file: &str| {
        failure(format!(
            "{file} is not valid UTF-8: editing it would change its other bytes; convert it \
             first (e.g. `iconv -f latin1 -t utf-8`)"
        ))
    };
    if lossy {
        return Err(not_utf8(&args.config.display().to_string()));
    }
    let dir = match args.config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let options = EditOptions { named_acls: named_acls(args, &dir)?, strict };
    let mut resolver = FsResolver::new(dir);
    let editor = ConfigEditor::new(&text, &mut resolver, options)
        .map_err(|e| failure(shown(&e.to_string(), &args.config)))?;
    if let Some(file) = resolver.lossy.first() {
        return Err(not_utf8(file));
    }
    Ok(editor)
}

/// `text` with the editor's name of the top-level file replaced by its path.
fn shown(text: &str, path: &Path) -> String {
    text.replace(&format!("{MANAGER_CONF}:"), &format!("{}:", path.display()))
}

/// The path of one of the editor's files.
fn path_of(name: &str, config: &Path) -> PathBuf {
    if name == MANAGER_CONF { config.to_path_buf() } else { PathBuf::from(name) }
}

fn list(args: &FileArgs) -> Result<ExitCode, Failure> {
    let editor = open(args, false)?;
    let (config, check) = (editor.config(), editor.check());
    if args.json {
        let users: Vec<Value> = check
            .users
            .iter()
            .filter_map(|u| Some(user_json(u, config.users.get(u.index)?, &args.config, None)))
            .collect();
        let deleted: Vec<&str> = check.deleted.iter().map(|d| d.name.as_str()).collect();
        let doc = json!({
            "file": args.config.display().to_string(),
            "enabled": config.general.enabled,
            "users": users,
            "deleted_users": deleted,
        });
        outln!("{doc:#}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "{}: {} user{}; AMI {}\n",
        args.config.display(),
        config.users.len(),
        if config.users.len() == 1 { "" } else { "s" },
        if config.general.enabled { "enabled" } else { "disabled ([general] enabled is not yes)" }
    );
    let mut rows = vec![[
        "NAME".to_owned(),
        "SECRET".to_owned(),
        "READ".to_owned(),
        "WRITE".to_owned(),
        "NETWORK".to_owned(),
        "FINDINGS".to_owned(),
    ]];
    for u in &check.users {
        let Some(user) = config.users.get(u.index) else { continue };
        let network = if user.acl.is_empty() || u.reach.open_to_all() {
            "any address"
        } else if u.reach.admits_none() {
            "no address"
        } else {
            "restricted"
        };
        let count = |s: Severity| u.findings.iter().filter(|f| f.severity == s).count();
        let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
        let findings = match (errors, warnings) {
            (0, 0) => "-".to_owned(),
            (0, w) => format!("{w} warning{}", if w == 1 { "" } else { "s" }),
            (e, w) => format!(
                "{e} error{}, {w} warning{}",
                if e == 1 { "" } else { "s" },
                if w == 1 { "" } else { "s" }
            ),
        };
        rows.push([
            user.name.clone(),
            u.secret.word().to_owned(),
            crate::check::class_text(user.read),
            crate::check::class_text(user.write),
            network.to_owned(),
            findings,
        ]);
    }
    for d in &check.deleted {
        rows.push([
            d.name.clone(),
            "-".into(),
            "-".into(),
            "-".into(),
            "DELETED by Asterisk (invalid ACL line)".into(),
            "error".into(),
        ]);
    }
    let widths: Vec<usize> =
        (0..6).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for r in &rows {
        let line: Vec<String> =
            r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(&format!("  {}\n", line.join("  ").trim_end()));
    }
    out.push_str("\n`ami user show FILE NAME` or `ami check FILE` explains the findings.\n");
    out!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn show(args: &ShowArgs) -> Result<ExitCode, Failure> {
    let editor = open(&args.file, false)?;
    let (config, check) = (editor.config(), editor.check());
    let found = check.users.iter().find_map(|u| {
        let user = config.users.get(u.index)?;
        user.name.eq_ignore_ascii_case(&args.name).then_some((u, user))
    });
    if let Some((u, user)) = found {
        if args.file.json {
            outln!("{:#}", user_json(u, user, &args.file.config, None));
        } else {
            let mut out = String::new();
            user_text(&mut out, u, user, &args.file.config, None);
            out!("{}", out.trim_start());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(d) = check.deleted.iter().find(|d| d.name.eq_ignore_ascii_case(&args.name)) {
        if args.file.json {
            let findings: Vec<Value> =
                d.findings.iter().map(|f| finding_json(f, &args.file.config)).collect();
            outln!("{:#}", json!({"name": d.name, "deleted": true, "findings": findings}));
        } else {
            let mut out =
                format!("[{}] DELETED by Asterisk: logins fail as for an unknown user\n", d.name);
            for f in &d.findings {
                finding_text(&mut out, f, &args.file.config, "  ");
            }
            out.push_str(
                "  fix: `ami user set FILE NAME --permit NET` replaces the invalid ACL line\n",
            );
            out!("{out}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    Err(failure(format!(
        "there is no user `{}` in {} (`ami user list` shows them)",
        args.name,
        args.file.config.display()
    )))
}

fn add(args: &AddArgs) -> Result<ExitCode, Failure> {
    let secret = args.user.secret.secret()?;
    let settings = args.user.settings(secret.as_ref())?;
    let edits = [Edit::AddUser { name: args.name.clone(), settings }];
    edit(&args.edit, &edits, secret.as_ref(), Some(&args.user.secret), &args.name)
}

fn set(args: &SetArgs) -> Result<ExitCode, Failure> {
    let secret = args.user.secret.secret()?;
    let mut settings = args.user.settings(secret.as_ref())?;
    if args.no_secret {
        settings.secret = Some(Setting::Unset);
    }
    let mut edits = Vec::new();
    if settings != Default::default() {
        edits.push(Edit::UpdateUser { name: args.name.clone(), settings });
    }
    let mut target = args.name.clone();
    if let Some(to) = &args.rename {
        edits.push(Edit::RenameUser { from: args.name.clone(), to: to.clone() });
        target = to.clone();
    }
    if edits.is_empty() {
        return Err(Failure {
            message: "nothing to change: give at least one option (see `ami user set --help`)"
                .to_owned(),
            code: 2,
        });
    }
    edit(&args.edit, &edits, secret.as_ref(), Some(&args.user.secret), &target)
}

/// Applies `edits` (all or none), prints the result, writes, reloads.
fn edit(
    args: &EditArgs,
    edits: &[Edit],
    secret: Option<&Secret>,
    secret_args: Option<&settings::SecretArgs>,
    user: &str,
) -> Result<ExitCode, Failure> {
    let file = &args.file;
    let login = args.reload.options()?;
    let mut editor = open(file, args.strict)?;
    let mut reports: Vec<EditReport> = Vec::new();
    for e in edits {
        let report =
            editor.apply(e).map_err(|err| failure(shown(&err.to_string(), &file.config)))?;
        reports.push(report);
    }
    let changed = editor.changed_files();
    let mut diffs = Vec::new();
    for f in &changed {
        let path = path_of(&f.name, &file.config);
        let original = editor.original_text(&f.name).unwrap_or_default();
        let name = path.display().to_string();
        diffs.push((name.clone(), diff::unified(&name, &original, &f.text, &f.changes)));
    }
    let generated = secret_args.is_some_and(|s| s.generate_secret);
    let mut written = Vec::new();
    if !args.dry_run && !changed.is_empty() {
        if let (Some(out), Some(secret)) = (secret_args.and_then(|s| s.secret_out.as_ref()), secret)
        {
            write::write_secret(out, secret.expose()).map_err(|e| {
                failure(format!(
                    "cannot write the secret to {}: {e}; nothing was changed",
                    out.display()
                ))
            })?;
        }
        // Included files first: manager.conf, which includes them, comes last.
        let mut order: Vec<_> = changed.iter().collect();
        order.sort_by_key(|f| f.name == MANAGER_CONF);
        for f in order {
            let path = path_of(&f.name, &file.config);
            write::write_atomic(&path, &f.text).map_err(|e| {
                failure(format!(
                    "cannot write {}: {e}{}",
                    path.display(),
                    if written.is_empty() {
                        "; nothing was changed".to_owned()
                    } else {
                        format!("; already written: {}", written.join(", "))
                    }
                ))
            })?;
            written.push(path.display().to_string());
        }
    }
    let reloaded = match (login, args.dry_run, changed.is_empty()) {
        (Some(login), false, false) => Some(reload::reload(login)?),
        _ => None,
    };
    let findings: Vec<&Finding> = reports.iter().flat_map(|r| r.findings.iter()).collect();
    let mut notes: Vec<String> = Vec::new();
    for n in reports.iter().flat_map(|r| r.notes.iter()) {
        let text = n.to_string();
        if !notes.contains(&text) {
            notes.push(text);
        }
    }
    let (config, check) = (editor.config(), editor.check());
    if !config.general.enabled && !edits.iter().any(|e| matches!(e, Edit::SetEnabled(_))) {
        notes.push(format!(
            "AMI is off in this file ([general] enabled is not yes): nobody can log in until \
             `ami user enable-ami {}`",
            file.config.display()
        ));
    }
    let rights = check.users.iter().find_map(|u| {
        let user_ = config.users.get(u.index)?;
        (!user.is_empty() && user_.name.eq_ignore_ascii_case(user)).then_some((u, user_))
    });
    let apply = apply_hint(&file.config, args.dry_run, changed.is_empty(), reloaded.as_ref());
    let show_secret = secret_args.is_some_and(|s| s.show_secret);
    if file.json {
        let doc = json!({
            "ok": true,
            "file": file.config.display().to_string(),
            "dry_run": args.dry_run,
            "changed": !changed.is_empty(),
            "written": written,
            "changes": diffs.iter().map(|(f, d)| json!({"file": f, "diff": d})).collect::<Vec<_>>(),
            "user": rights.map(|(u, user)| user_json(u, user, &file.config, None)),
            "findings": findings.iter().map(|f| finding_json(f, &file.config)).collect::<Vec<_>>(),
            "notes": notes,
            "enabled": config.general.enabled,
            "secret": (show_secret && generated).then(|| secret.map(|s| s.expose().to_owned())).flatten(),
            "reload": reloaded.as_ref().map(|r| json!({"target": r.target, "message": r.message})),
            "apply": apply,
        });
        outln!("{doc:#}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    if changed.is_empty() {
        out.push_str("nothing to change: the file already says so\n");
    }
    for (_, d) in &diffs {
        out.push_str(d);
    }
    match rights {
        Some((u, user)) => user_text(&mut out, u, user, &file.config, None),
        None => {
            for f in &findings {
                finding_text(&mut out, f, &file.config, "");
            }
        }
    }
    if rights.is_none()
        && !user.is_empty()
        && edits.iter().any(|e| matches!(e, Edit::RemoveUser { .. }))
    {
        out.push_str(&format!("\nuser `{user}` removed\n"));
    }
    if edits.iter().any(|e| matches!(e, Edit::SetEnabled(_))) {
        out.push_str(&format!(
            "\nAMI is {} ([general] enabled = {})\n",
            if config.general.enabled { "on" } else { "off" },
            if config.general.enabled { "yes" } else { "no" }
        ));
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in &notes {
            out.push_str(&format!("note: {n}\n"));
        }
    }
    if let (true, Some(secret)) = (generated, secret) {
        let out_file = secret_args.and_then(|s| s.secret_out.as_ref());
        match (show_secret, out_file, args.dry_run) {
            (true, _, _) => out.push_str(&format!("\ngenerated secret: {}\n", secret.expose())),
            (false, Some(p), false) => {
                out.push_str(&format!("\nthe generated secret is in {} (mode 0600)\n", p.display()))
            }
            _ => out.push_str(
                "\na secret was generated and is not shown: use --show-secret or --secret-out FILE\n",
            ),
        }
    }
    out.push('\n');
    out.push_str(&apply);
    out.push('\n');
    out!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// What was written and how Asterisk applies it.
fn apply_hint(
    config: &Path,
    dry_run: bool,
    unchanged: bool,
    reloaded: Option<&reload::Reloaded>,
) -> String {
    if unchanged {
        return "nothing was written".to_owned();
    }
    if dry_run {
        return "dry run: nothing was written".to_owned();
    }
    match reloaded {
        Some(r) => format!(
            "written to {}; Asterisk at {} reloaded the manager configuration ({})",
            config.display(),
            r.target,
            r.message
        ),
        None => format!(
            "written to {}; apply it with `asterisk -rx 'manager reload'`, or over AMI with the \
             action Reload (Module: manager) by an account with write system or config, e.g. \
             --reload 127.0.0.1:5038 --reload-user admin",
            config.display()
        ),
    }
}
