//! The SQLite database's files hold every partner's data: on Unix they are the owner's alone. A
//! directory made for the database is created 0700; the database file 0600, before SQLite opens
//! it (SQLite gives its `-wal` and `-shm` files the database file's mode); a file of the
//! database found readable by others (made by an older Kassa, or copied in) is tightened to
//! 0600, with a warning. A directory that already existed is left as it is here: the database
//! may live in a shared one such as `/tmp`. Kassa's data directory is tightened by the server.

use std::io;
use std::path::{Path, PathBuf};

/// The files SQLite keeps beside the database.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Before the database is opened: its directory and an empty file, both private, when missing;
/// the file tightened when it is not.
#[cfg(unix)]
pub(crate) fn prepare(db: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(db)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => tighten(db).map(|_| ()),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
pub(crate) fn prepare(db: &Path) -> io::Result<()> {
    if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    Ok(())
}

/// Once the database is open: its `-wal`, `-shm` (and any `-journal`) tightened to 0600.
pub(crate) fn tighten_companions(db: &Path) -> io::Result<()> {
    for suffix in COMPANIONS {
        let mut path = PathBuf::from(db.as_os_str().to_owned());
        path.as_mut_os_string().push(suffix);
        match tighten(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// Takes every group and other permission off `path`; whether it had any.
#[cfg(unix)]
pub(crate) fn tighten(path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
    tracing::warn!(
        path = %path.display(),
        was = format!("{mode:o}"),
        now = format!("{:o}", mode & 0o700),
        "a database file was readable by others; tightened it"
    );
    Ok(true)
}

#[cfg(not(unix))]
pub(crate) fn tighten(_path: &Path) -> io::Result<bool> {
    Ok(false)
}
