//! Partner logos in the store, on both backends: stored, replaced and removed in one
//! transaction each with its audit event; read without the bytes by partner and with them by
//! slug; an unknown partner changes nothing.

mod common;

use common::*;
use kassa_core::id::PartnerId;
use kassa_core::logo::Logo;

fn svg(width: u32) -> Logo {
    Logo::parse(
        "image/svg+xml",
        format!(r#"<svg width="{width}" height="20"><rect width="{width}" height="20"/></svg>"#)
            .as_bytes(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logo_is_stored_replaced_read_and_removed() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let slug = store
            .partner_by_id(&partner)
            .await
            .unwrap()
            .unwrap()
            .slug
            .to_string();
        assert_eq!(store.logo_ref(&partner).await.unwrap(), None, "[{name}]");
        assert_eq!(store.logo_by_slug(&slug).await.unwrap(), None, "[{name}]");

        let first = svg(40);
        let who = by();
        assert!(
            store.set_logo(&partner, &first, &who).await.unwrap(),
            "[{name}]"
        );
        let read = store.logo_ref(&partner).await.unwrap().unwrap();
        assert_eq!(read.sha256, first.sha256, "[{name}]");
        assert_eq!((read.width, read.height), (40, 20), "[{name}]");
        assert_eq!(read.content_type, "image/svg+xml", "[{name}]");
        assert_eq!(read.updated_at, micros(who.at), "[{name}]");
        let stored = store.logo_by_slug(&slug).await.unwrap().unwrap();
        assert_eq!(stored.bytes, first.bytes, "[{name}]");

        // Replaced: one logo per partner.
        let second = svg(80);
        assert!(store.set_logo(&partner, &second, &by()).await.unwrap());
        let stored = store.logo_by_slug(&slug).await.unwrap().unwrap();
        assert_eq!(stored.logo.sha256, second.sha256, "[{name}]");
        assert_eq!(stored.bytes, second.bytes, "[{name}]");

        // Removed once; a second removal finds nothing.
        assert!(
            store.delete_logo(&partner, &by()).await.unwrap(),
            "[{name}]"
        );
        assert!(
            !store.delete_logo(&partner, &by()).await.unwrap(),
            "[{name}]"
        );
        assert_eq!(store.logo_ref(&partner).await.unwrap(), None, "[{name}]");

        // Each change is audited with the hashes before and after.
        let events = store
            .audit_events_about(&partner, &[partner.as_str()])
            .await
            .unwrap();
        let changes: Vec<serde_json::Value> = events
            .iter()
            .filter(|e| e.action.as_str() == "partner.updated")
            .map(|e| serde_json::from_str(&e.details).unwrap())
            .collect();
        assert_eq!(changes.len(), 3, "[{name}] {changes:?}");
        assert_eq!(changes[0]["before"]["logo"], serde_json::Value::Null);
        assert_eq!(changes[0]["after"]["logo"], first.sha256.as_str());
        assert_eq!(changes[1]["before"]["logo"], first.sha256.as_str());
        assert_eq!(changes[2]["before"]["logo"], second.sha256.as_str());
        assert_eq!(changes[2]["after"]["logo"], serde_json::Value::Null);

        // No such partner: nothing stored.
        let nobody = PartnerId::generate();
        assert!(
            !store.set_logo(&nobody, &first, &by()).await.unwrap(),
            "[{name}]"
        );
        assert_eq!(store.logo_ref(&nobody).await.unwrap(), None, "[{name}]");
    }
}
