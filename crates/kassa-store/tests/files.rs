//! The SQLite database's files are private on Unix: a directory made for it 0700, the database
//! and its `-wal` and `-shm` files 0600, and a file found readable by others tightened.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kassa_store::ConnectOptions;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn with_suffix(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

#[tokio::test]
async fn a_new_database_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("kassa-data").join("db");
    let db = data.join("kassa.db");
    let store = kassa_store::connect(
        &format!("sqlite://{}", db.display()),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    store.ping().await.unwrap();
    assert_eq!(mode(&data), 0o700, "the directory made for it");
    assert_eq!(
        mode(&dir.path().join("kassa-data")),
        0o700,
        "and its parent made with it"
    );
    assert_eq!(mode(&db), 0o600);
    for suffix in ["-wal", "-shm"] {
        let f = with_suffix(&db, suffix);
        assert!(f.exists(), "{suffix}");
        assert_eq!(mode(&f), 0o600, "{suffix}");
    }
}

#[tokio::test]
async fn files_readable_by_others_are_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kassa.db");
    let url = format!("sqlite://{}", db.display());
    drop(
        kassa_store::connect(&url, &ConnectOptions::default())
            .await
            .unwrap(),
    );
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let wal = with_suffix(&db, "-wal");
    if wal.exists() {
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o664)).unwrap();
    }
    // A directory that was there already is not Kassa's to change (it may be /tmp).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = kassa_store::connect(&url, &ConnectOptions::default())
        .await
        .unwrap();
    store.ping().await.unwrap();
    assert_eq!(mode(&db), 0o600);
    for suffix in ["-wal", "-shm"] {
        assert_eq!(mode(&with_suffix(&db, suffix)), 0o600, "{suffix}");
    }
    assert_eq!(mode(dir.path()), 0o755);
}
