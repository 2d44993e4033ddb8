//! `ami action`: send one action, print its answer, exit non-zero on `Response: Error`.

use std::process::ExitCode;

use ami_proto::OwnedMessage;
use ami_proto::encode::Action;
use ami_tokio::Client;

use crate::connect::ConnectArgs;
use crate::error::CliError;
use crate::output;

/// Arguments of `ami action`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The secret comes from --secret-env VAR, --secret-file FILE, $AMI_SECRET or a prompt.

Examples:
  AMI_SECRET=... ami action pbx --user admin Ping
  ami action 127.0.0.1:5038 -u operator --secret-env OP_SECRET CoreShowChannels
  ami action pbx -u admin --secret-file ~/.ami Command 'Command=core show channels'
  ami action pbx -u admin Originate Channel=PJSIP/100 Exten=200 Context=default Async=true
  ami action pbx -u admin Setvar Variable=FOO Value=a=b      # split at the first `=`
  ami action pbx:5039 -u admin --tls-ca ca.pem Ping           # AMI over TLS

Exit status: 0 success, 1 `Response: Error` (or a failed originate, or no answer), 2 usage.")]
pub struct ActionArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// The action (e.g. Ping, Status, Command, Originate)
    pub action: String,
    /// Fields as Key=Value (repeat a key to send it several times)
    #[arg(value_name = "KEY=VALUE")]
    pub fields: Vec<String>,
    /// Print the answer as JSON (one object: response, items, complete, output)
    #[arg(long)]
    pub json: bool,
}

/// Builds the action from the command line, refusing what cannot be sent safely.
pub fn build_action(name: &str, fields: &[String]) -> Result<Action, CliError> {
    let mut action = Action::new(name);
    for f in fields {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("field {f:?} has no `=`: write fields as Key=Value"))
        })?;
        if k.is_empty() {
            return Err(CliError::Usage(format!("field {f:?} has an empty name")));
        }
        action.push(k, v);
    }
    action.to_bytes().map_err(|e| CliError::Usage(format!("cannot send this action: {e}")))?;
    Ok(action)
}

/// Runs `ami action`.
pub async fn run(args: ActionArgs) -> Result<ExitCode, CliError> {
    let action = build_action(&args.action, &args.fields)?;
    let client = Client::connect(args.conn.options()?).await?;
    let reply = client.action(&action).await;
    client.close().await;
    let reply = match reply {
        Ok(r) => r,
        // No answer (time limit, lost connection, too large): say so, exit 1.
        Err(e) if args.json => {
            outln!("{}", serde_json::json!({ "failure": e.to_string() }));
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let one = |m: Option<&OwnedMessage>| {
        m.map_or(serde_json::Value::Null, |m| output::json(&m.as_message()))
    };
    if args.json {
        let doc = serde_json::json!({
            "response": one(Some(reply.response())),
            "items": reply.items().iter().map(|m| output::json(&m.as_message())).collect::<Vec<_>>(),
            "complete": one(reply.complete()),
            "output": reply.output().map(|o| o.iter().map(|l| output::text(l)).collect::<Vec<_>>()),
            "originate_response": one(reply.originate_response()),
        });
        outln!("{doc}");
    } else {
        out!("{}", output::block(&reply.response().as_message()));
        for item in reply.items() {
            outln!();
            out!("{}", output::block(&item.as_message()));
        }
        for m in [reply.complete(), reply.originate_response()].into_iter().flatten() {
            outln!();
            out!("{}", output::block(&m.as_message()));
        }
    }
    Ok(if reply.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_from_the_command_line() {
        let a = build_action("Setvar", &["Variable=FOO".into(), "Value=a=b".into()]).unwrap();
        assert_eq!(a.to_bytes().unwrap(), b"Action: Setvar\r\nVariable: FOO\r\nValue: a=b\r\n\r\n");
        assert!(matches!(build_action("Ping", &["NoEquals".into()]), Err(CliError::Usage(_))));
        assert!(matches!(build_action("Ping", &["=x".into()]), Err(CliError::Usage(_))));
        // Injection: a CR/LF in a value would smuggle a second header or action.
        assert!(matches!(
            build_action("Ping", &["X=1\r\nAction: Logoff".into()]),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(build_action("Pi\nng", &[]), Err(CliError::Usage(_))));
    }
}
