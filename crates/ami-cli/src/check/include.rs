//! `#include`/`#tryinclude` for `ami check`: files read from disk the way Asterisk finds them.
//!
//! Asterisk resolves a relative include path against its configuration directory
//! (`astetcdir`, usually `/etc/asterisk`), not against the including file. `ami check` takes
//! the directory of the checked manager.conf as that configuration directory. Absolute paths
//! are used as written. The wildcards `*` and `?` are supported in the **last** path component
//! (`#include manager.d/*.conf`), matches are loaded in name order like `glob(3)`; directory
//! components are taken literally. Files are named by their canonical path in findings.

use ami_proto::config::ini::glob_match;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use ami_proto::config::{IncludeError, IncludeResolver};

/// Largest file read (the parser's own total limit is 16 MiB as well).
const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads included files relative to a configuration directory.
#[derive(Debug)]
pub(crate) struct FsResolver {
    /// The directory relative paths are resolved against.
    config_dir: PathBuf,
    /// The files read that were not valid UTF-8 (their invalid bytes were replaced).
    pub(crate) lossy: Vec<String>,
}

impl FsResolver {
    /// A resolver for configuration files in `config_dir`.
    pub(crate) fn new(config_dir: PathBuf) -> FsResolver {
        FsResolver { config_dir, lossy: Vec::new() }
    }

    /// The candidates for `path`, in glob order.
    fn candidates(&self, path: &str) -> Result<Vec<PathBuf>, IncludeError> {
        let full = if Path::new(path).is_absolute() {
            PathBuf::from(path)
        } else {
            self.config_dir.join(path)
        };
        let Some(name) = full.file_name().and_then(|n| n.to_str()) else {
            return Ok(Vec::new());
        };
        if !name.contains(['*', '?']) {
            return Ok(if full.exists() { vec![full] } else { Vec::new() });
        }
        let pattern = name.to_owned();
        let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(_) => return Ok(Vec::new()),
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name().to_str().is_some_and(|n| {
                    // glob(3) does not match a leading dot with a wildcard.
                    (!n.starts_with('.') || pattern.starts_with('.'))
                        && glob_match(pattern.as_bytes(), n.as_bytes())
                })
            })
            .map(|e| e.path())
            .collect();
        found.sort();
        Ok(found)
    }
}

impl IncludeResolver for FsResolver {
    fn resolve(&mut self, path: &str) -> Result<Vec<(String, String)>, IncludeError> {
        let mut out = Vec::new();
        for candidate in self.candidates(path)? {
            let name = fs::canonicalize(&candidate).unwrap_or_else(|_| candidate.clone());
            let shown = name.display().to_string();
            if name.is_dir() {
                return Err(IncludeError::Refused { reason: format!("{shown} is a directory") });
            }
            let (text, lossy) = read_limited(&name)
                .map_err(|kind| IncludeError::Unreadable { name: shown.clone(), kind })?;
            if lossy {
                self.lossy.push(shown.clone());
            }
            out.push((shown, text));
        }
        Ok(out)
    }
}

/// Reads a file of at most [`MAX_FILE_BYTES`] (`/dev/zero` must not hang `ami check`) as
/// text. Asterisk reads bytes; invalid UTF-8 (a Latin-1 comment, say) is replaced by U+FFFD
/// and reported through the `bool` (`true` = replaced).
pub(crate) fn read_limited(path: &Path) -> Result<(String, bool), std::io::ErrorKind> {
    let file = fs::File::open(path).map_err(|e| e.kind())?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| e.kind())?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::ErrorKind::FileTooLarge);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, false)),
        Err(e) => Ok((String::from_utf8_lossy(e.as_bytes()).into_owned(), true)),
    }
}

#[cfg(test)]
mod tests {
    use ami_proto::config::ini::glob_match;

    #[test]
    fn wildcards() {
        assert!(glob_match(b"*.conf", b"users.conf"));
        assert!(glob_match(b"u?ers.conf", b"users.conf"));
        assert!(!glob_match(b"*.conf", b"users.conf.bak"));
    }
}
