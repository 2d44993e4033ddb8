//! `ami completions SHELL` and `ami man`: what packagers install beside the binary.

use std::process::ExitCode;

use clap_complete::Shell;

/// Arguments of `ami completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ami completions bash > /usr/share/bash-completion/completions/ami
  ami completions zsh > /usr/share/zsh/vendor-completions/_ami
  ami completions fish > ~/.config/fish/completions/ami.fish
  source <(ami completions bash)                  # this shell only")]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the completion script for `args.shell` to standard output.
pub fn completions(args: &CompletionsArgs, command: &mut clap::Command) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, command, "ami", &mut script);
    crate::output::emit(&String::from_utf8_lossy(&script));
    ExitCode::SUCCESS
}

/// Writes the manual page (roff) to standard output: the command, then a section per
/// subcommand with its synopsis, options and examples.
pub fn man(command: clap::Command) -> ExitCode {
    let mut page = Vec::new();
    let rendered = clap_mangen::Man::new(command.clone()).render(&mut page).and_then(|()| {
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = sub.get_name();
            let sub = sub.clone().bin_name(format!("ami {name}"));
            let man = clap_mangen::Man::new(sub.clone());
            page.extend_from_slice(format!(".SH \"AMI {}\"\n", name.to_uppercase()).as_bytes());
            if let Some(about) = sub.get_about() {
                page.extend_from_slice(format!("{about}\n").as_bytes());
            }
            man.render_synopsis_section(&mut page)?;
            man.render_options_section(&mut page)?;
            if sub.get_after_help().is_some() {
                man.render_extra_section(&mut page)?;
            }
        }
        Ok(())
    });
    if let Err(e) = rendered {
        eprintln!("ami man: {e}");
        return ExitCode::from(1);
    }
    crate::output::emit(&String::from_utf8_lossy(&page));
    ExitCode::SUCCESS
}
