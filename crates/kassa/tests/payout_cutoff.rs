//! `kassa payouts cutoff`: the one way to change the payout cut-off every instance sharing a
//! database uses (docs/api.md §12), and `kassa serve` refusing a configuration that disagrees.

mod common;

use common::*;

#[test]
fn the_shared_cutoff_is_changed_by_the_cli_and_checked_by_serve() {
    let dir = tempfile::tempdir().unwrap();
    assert!(kassa(dir.path(), &["migrate"]).ok);
    for bad in ["25:00", "7:30", "17:30:00", "noon", ""] {
        let run = kassa(dir.path(), &["payouts", "cutoff", bad]);
        assert!(!run.ok, "{bad}: {run:?}");
        assert!(run.stderr.contains("must be HH:MM"), "{bad}: {run:?}");
    }
    let set = kassa(dir.path(), &["payouts", "cutoff", "17:30"]);
    assert!(set.ok, "{set:?}");
    assert!(
        set.stdout.contains("payout cut-off set to 17:30 UTC"),
        "{set:?}"
    );
    // An instance still configured with the default refuses to start, naming both values and
    // how to change them; nothing is served.
    let serve = kassa(dir.path(), &["serve", "--demo", "--listen", "127.0.0.1:0"]);
    assert!(!serve.ok, "{serve:?}");
    assert!(
        serve.stderr.contains(
            "payoutCutoff is 00:00 in this instance's configuration but 17:30 in the database"
        ),
        "{serve:?}"
    );
    assert!(serve.stderr.contains("kassa payouts cutoff"), "{serve:?}");
    // Checked before the demo is set up: no demo partner was made.
    let list = kassa(dir.path(), &["partner", "list"]);
    assert!(list.stdout.starts_with("no partners yet"), "{list:?}");
}

#[test]
fn the_cutoff_needs_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let run = kassa(dir.path(), &["payouts", "cutoff", "17:30"]);
    assert!(!run.ok, "{run:?}");
    assert!(
        run.stderr
            .contains("run this where `kassa serve` runs, or pass --database-url"),
        "{run:?}"
    );
    assert!(!dir.path().join("kassa-data").join("kassa.db").exists());
}
