//! Typed errors: the TypeScript layer registers its error classes (`LocalProtocolError`,
//! `RemoteProtocolError`, `ConfigError`, `ConfigEditError`) once per JavaScript environment, and every error this
//! addon throws is an instance of one of them, so `err instanceof LocalProtocolError` holds for
//! errors from native code and from TypeScript alike.
//!
//! Before the classes are registered (the addon loaded without the package's `index.js`), errors
//! are plain `Error`s whose `code` names the class (`ERR_AMI_LOCAL`, ...).

use napi::bindgen_prelude::{FnArgs, FunctionRef, Unknown};
use napi::{Env, Error, JsValue, Result, Status};

/// The error classes of the package that native code throws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The caller asked for something the protocol or the session refuses.
    Local,
    /// The peer broke the protocol.
    Remote,
    /// manager.conf, an ACL rule, a filter or a permission list cannot be loaded.
    Config,
    /// The manager.conf editor refused an edit (a subclass of `Config`).
    ConfigEdit,
}

impl Kind {
    /// The `code` property of errors of this kind.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Local => "ERR_AMI_LOCAL",
            Kind::Remote => "ERR_AMI_REMOTE",
            Kind::Config => "ERR_AMI_CONFIG",
            Kind::ConfigEdit => "ERR_AMI_CONFIG_EDIT",
        }
    }
}

/// Extra properties of an error: for an encoding refusal, which field and byte; for a refused
/// edit, which file and line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    /// What went wrong, as a stable identifier (`forbidden-byte-in-value`, ...).
    pub reason: Option<&'static str>,
    /// Index of the refused field (0: the first line).
    pub field: Option<u32>,
    /// Byte offset of the fault in the field's name or value.
    pub offset: Option<u32>,
    /// The configuration file concerned (`manager.conf` for the edited file itself).
    pub file: Option<String>,
    /// The line of that file (1-based).
    pub line: Option<u32>,
}

/// The properties given to an error class's constructor.
#[napi_derive::napi(object)]
#[derive(Clone, Debug, Default)]
pub struct ErrorDetails {
    /// `ERR_AMI_LOCAL`, `ERR_AMI_REMOTE` or `ERR_AMI_CONFIG`.
    pub code: String,
    /// What went wrong, as a stable identifier (`forbidden-byte-in-value`, ...).
    pub reason: Option<String>,
    /// Index of the refused field (0: the first line).
    pub field: Option<u32>,
    /// Byte offset of the fault in the field's name or value.
    pub offset: Option<u32>,
    /// For a refused edit: the configuration file concerned.
    pub file: Option<String>,
    /// For a refused edit: the line of that file (1-based).
    pub line: Option<u32>,
}

/// An error class, called as `new Class(message, details)`.
type Ctor = FunctionRef<FnArgs<(String, ErrorDetails)>, Unknown<'static>>;

/// The registered constructors, kept as the environment's instance data.
struct Classes {
    local: Ctor,
    remote: Ctor,
    config: Ctor,
    config_edit: Ctor,
}

/// Registers the error classes of the TypeScript layer (called once by the package's entry
/// point). Each is constructed as `new Class(message, details)`.
#[napi_derive::napi(
    js_name = "registerErrorClasses",
    ts_args_type = "local: new (message: string, details: ErrorDetails) => Error, remote: new (message: string, details: ErrorDetails) => Error, config: new (message: string, details: ErrorDetails) => Error, configEdit: new (message: string, details: ErrorDetails) => Error"
)]
pub fn register_error_classes(
    env: Env,
    local: Ctor,
    remote: Ctor,
    config: Ctor,
    config_edit: Ctor,
) -> Result<()> {
    env.set_instance_data(Classes { local, remote, config, config_edit }, (), |_| {})
}

/// An error of `kind` with `message` (and `details`), as an instance of the registered class.
pub fn error(env: &Env, kind: Kind, message: impl Into<String>, details: &Details) -> Error {
    let message = message.into();
    match build(env, kind, &message, details) {
        Ok(e) => e,
        Err(_) => Error::new(Status::GenericFailure, format!("{}: {message}", kind.code())),
    }
}

fn build(env: &Env, kind: Kind, message: &str, details: &Details) -> Result<Error> {
    let props = ErrorDetails {
        code: kind.code().to_owned(),
        reason: details.reason.map(str::to_owned),
        field: details.field,
        offset: details.offset,
        file: details.file.clone(),
        line: details.line,
    };
    let Some(classes) = env.get_instance_data::<Classes>()? else {
        // Not registered: a plain Error carrying the code and details.
        let mut plain = env.create_error(Error::new(Status::GenericFailure, message))?;
        plain.set("code", props.code)?;
        if let Some(r) = props.reason {
            plain.set("reason", r)?;
        }
        if let Some(f) = props.field {
            plain.set("field", f)?;
        }
        if let Some(o) = props.offset {
            plain.set("offset", o)?;
        }
        if let Some(f) = props.file {
            plain.set("file", f)?;
        }
        if let Some(l) = props.line {
            plain.set("line", l)?;
        }
        return Ok(Error::from(plain.to_unknown()));
    };
    let class = match kind {
        Kind::Local => &classes.local,
        Kind::Remote => &classes.remote,
        Kind::Config => &classes.config,
        Kind::ConfigEdit => &classes.config_edit,
    };
    let ctor = class.borrow_back(env)?;
    let instance = ctor.new_instance(FnArgs::from((message.to_owned(), props)))?;
    Ok(Error::from(instance))
}

/// A `LocalProtocolError`.
pub fn local(env: &Env, context: &str, e: impl std::fmt::Display) -> Error {
    error(env, Kind::Local, format!("{context}: {e}"), &Details::default())
}

/// A `ConfigError`.
pub fn config(env: &Env, context: &str, e: impl std::fmt::Display) -> Error {
    error(env, Kind::Config, format!("{context}: {e}"), &Details::default())
}

/// A `RemoteProtocolError`.
pub fn remote(env: &Env, message: impl Into<String>) -> Error {
    error(env, Kind::Remote, message, &Details::default())
}

/// A `TypeError`-like argument error (a wrong role name, a malformed address, ...).
pub fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, message.into())
}

/// The details of an encoding refusal.
pub fn encode_details(e: &ami_proto::encode::EncodeError) -> Details {
    use ami_proto::encode::EncodeErrorKind as K;
    let reason = match e.kind {
        K::EmptyName => "empty-name",
        K::ColonInName => "colon-in-name",
        K::BlankAroundName => "blank-around-name",
        K::ForbiddenByteInName(_) => "forbidden-byte-in-name",
        K::ForbiddenByteInValue(_) => "forbidden-byte-in-value",
        K::LeadingBlankInValue => "leading-blank-in-value",
    };
    Details {
        reason: Some(reason),
        field: u32::try_from(e.field).ok(),
        offset: u32::try_from(e.offset).ok(),
        ..Details::default()
    }
}

/// A `LocalProtocolError` for an encoding refusal, with its field and offset.
pub fn encode(env: &Env, what: &str, e: &ami_proto::encode::EncodeError) -> Error {
    error(env, Kind::Local, format!("cannot encode {what}: {e}"), &encode_details(e))
}

/// A `LocalProtocolError` for a refusal of the client session.
pub fn session(env: &Env, context: &str, e: &ami_proto::LocalError) -> Error {
    use ami_proto::LocalError as L;
    let mut details = match e {
        L::Encode(enc) => encode_details(enc),
        _ => Details::default(),
    };
    if details.reason.is_none() {
        details.reason = Some(match e {
            L::NotLoggedIn => "not-logged-in",
            L::LoginInProgress => "login-in-progress",
            L::Closed => "closed",
            L::TooManyPending { .. } => "too-many-pending",
            L::DuplicateActionId => "duplicate-action-id",
            L::ExceedsServerLimits(_) => "exceeds-server-limits",
            L::TransmitBufferFull { .. } => "transmit-buffer-full",
            _ => "refused",
        });
    }
    error(env, Kind::Local, format!("{context}: {e}"), &details)
}
