//! Writing a configuration file atomically: readers (Asterisk reloading, another `ami user`)
//! see the old file or the new one, never half of one, and a crash leaves one of the two.
//!
//! The text goes to a temporary file in the same directory (so that `rename` stays on one file
//! system), created with mode 0600 and `O_EXCL`, is flushed with `fsync`, gets the old file's
//! mode (and owner and group, when allowed) — 0600 for a new file —, then replaces the file
//! with `rename`, and the directory is flushed too. A symbolic link is followed: its target
//! is replaced, the link stays.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of a file the tool creates: readable and writable by its owner only (it holds secrets).
pub const NEW_FILE_MODE: u32 = 0o600;

/// How many random names are tried for the temporary file.
const TEMP_ATTEMPTS: usize = 16;

/// Replaces (or creates) `path` with `text`, atomically, keeping its mode, owner and group.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    write_file(path, text, None)
}

/// Replaces (or creates) `path` with a secret, atomically, with mode 0600 whatever the old
/// file's mode was.
pub fn write_secret(path: &Path, secret: &str) -> io::Result<()> {
    write_file(path, &format!("{secret}\n"), Some(NEW_FILE_MODE))
}

/// Replaces `path` with `text`; `mode`: the new mode, `None` to keep the old file's.
fn write_file(path: &Path, text: &str, mode: Option<u32>) -> io::Result<()> {
    let target = match fs::canonicalize(path) {
        Ok(real) => real,
        Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(e),
    };
    let existing = match fs::metadata(&target) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (temp_path, mut temp) = create_temp(&dir, &name)?;
    let result = (|| {
        temp.write_all(text.as_bytes())?;
        match (&existing, mode) {
            (Some(m), None) => {
                temp.set_permissions(Permissions::from_mode(m.mode() & 0o7777))?;
                // Keeping the owner needs privileges; without them the file stays ours.
                let _ = std::os::unix::fs::fchown(&temp, Some(m.uid()), Some(m.gid()));
            }
            (Some(m), Some(mode)) => {
                temp.set_permissions(Permissions::from_mode(mode))?;
                let _ = std::os::unix::fs::fchown(&temp, Some(m.uid()), Some(m.gid()));
            }
            (None, mode) => {
                temp.set_permissions(Permissions::from_mode(mode.unwrap_or(NEW_FILE_MODE)))?
            }
        }
        temp.sync_all()?;
        fs::rename(&temp_path, &target)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp_path);
    }
    result
}

/// A new file `.NAME.ami-XXXXXXXX` in `dir`, mode 0600, opened with `O_EXCL`.
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let mut last = io::Error::other("no temporary file name was free");
    for _ in 0..TEMP_ATTEMPTS {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!(".{name}.ami-{suffix}"));
        match OpenOptions::new().write(true).create_new(true).mode(NEW_FILE_MODE).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).unwrap();
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("ami-write-{tag}-{suffix}"));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_file_is_private_and_an_existing_one_keeps_its_mode() {
        let dir = temp_dir("mode");
        let new = dir.join("manager.conf");
        write_atomic(&new, "[general]\n").unwrap();
        assert_eq!(fs::read_to_string(&new).unwrap(), "[general]\n");
        assert_eq!(mode(&new), 0o600);
        fs::set_permissions(&new, Permissions::from_mode(0o640)).unwrap();
        write_atomic(&new, "[general]\nenabled = yes\n").unwrap();
        assert_eq!(mode(&new), 0o640);
        assert_eq!(fs::read_to_string(&new).unwrap(), "[general]\nenabled = yes\n");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_secret_file_is_always_private() {
        let dir = temp_dir("secret");
        let path = dir.join("crm.secret");
        fs::write(&path, "old\n").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        write_secret(&path, "s3cret").unwrap();
        assert_eq!((fs::read_to_string(&path).unwrap().as_str(), mode(&path)), ("s3cret\n", 0o600));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symbolic_link_is_followed() {
        let dir = temp_dir("link");
        let real = dir.join("real.conf");
        fs::write(&real, "old\n").unwrap();
        let link = dir.join("manager.conf");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, "new\n").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failure_leaves_the_file_and_no_temporary() {
        let dir = temp_dir("fail");
        let missing = dir.join("no/such/dir/manager.conf");
        assert!(write_atomic(&missing, "x").is_err());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
