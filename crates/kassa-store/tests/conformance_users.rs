//! Dashboard users, on both backends: roles and the last owner (never deleted or demoted, also
//! when two changes race), emails unique per partner only, sessions that end when idle, and
//! two-factor sign-in (a TOTP step and a recovery code are spent once, also in parallel).

mod common;

use std::sync::Arc;

use common::*;
use kassa_core::id::{PartnerId, UserId};
use kassa_core::role::Role;
use kassa_core::secret::Secret;
use kassa_store::{
    DeleteUserOutcome, FinishSignIn, NewUser, SealedTotp, SecondFactor, SetRoleOutcome, Store,
    StoreError, User,
};
use time::Duration;

fn user_record(partner: &PartnerId, email: &str, role: Role) -> User {
    User {
        id: UserId::generate(),
        partner_id: partner.clone(),
        email: email.to_string(),
        created_at: micros(now()),
        disabled_at: None,
        role,
        two_factor: false,
    }
}

async fn add_user(name: &str, store: &Arc<dyn Store>, user: &User) -> Result<(), StoreError> {
    store
        .create_user(
            &NewUser {
                user: user.clone(),
                password_hash: Secret::new(format!("$argon2id$hash-of-{name}")),
            },
            &by(),
        )
        .await
}

async fn new_user(name: &str, store: &Arc<dyn Store>, partner: &PartnerId, role: Role) -> User {
    let user = user_record(partner, &format!("{}@example.test", token()), role);
    add_user(name, store, &user)
        .await
        .unwrap_or_else(|e| panic!("[{name}] create_user: {e:?}"));
    user
}

/// Signs the user in; the session's token hash.
async fn sign_in(store: &Arc<dyn Store>, user: &User) -> String {
    let token = format!("tok-{}", token());
    store
        .create_session(
            &token,
            user,
            now() + Duration::hours(1),
            &kassa_core::audit::Caller::cli("test", now()),
        )
        .await
        .unwrap();
    token
}

/// A session counts as live when used within the last 15 minutes.
fn idle_cutoff() -> time::OffsetDateTime {
    now() - Duration::minutes(15)
}

#[tokio::test]
async fn users_are_deleted_with_their_sessions_but_never_the_last_owner() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let other = new_partner(name, store).await;
        let u1 = new_user(name, store, &partner, Role::Owner).await;
        let u2 = new_user(name, store, &partner, Role::Owner).await;
        let staff = new_user(name, store, &partner, Role::Staff).await;
        let theirs = new_user(name, store, &other, Role::Owner).await;
        let s1 = sign_in(store, &u1).await;
        let s2 = sign_in(store, &u2).await;

        for (partner, user, what) in [
            (&other, &u1.id, "another partner's user"),
            (&partner, &UserId::generate(), "unknown user"),
            (&PartnerId::generate(), &u1.id, "unknown partner"),
        ] {
            assert_eq!(
                store.delete_user(partner, user, &by()).await.unwrap(),
                DeleteUserOutcome::NotFound,
                "[{name}] {what}"
            );
        }
        assert_eq!(
            store.list_users(&partner).await.unwrap(),
            vec![u1.clone(), u2.clone(), staff.clone()],
            "[{name}] nothing deleted yet"
        );
        assert_eq!(
            store.delete_user(&partner, &u1.id, &by()).await.unwrap(),
            DeleteUserOutcome::Deleted(u1.clone()),
            "[{name}] deleted"
        );
        assert_eq!(
            store.session(&s1, now(), idle_cutoff()).await.unwrap(),
            None,
            "[{name}] their session is gone"
        );
        assert!(
            store
                .session(&s2, now(), idle_cutoff())
                .await
                .unwrap()
                .is_some(),
            "[{name}] the other user stays signed in"
        );
        assert_eq!(
            store.user_by_email(&partner, &u1.email).await.unwrap(),
            None,
            "[{name}] the email is free again"
        );
        // A staff user remains, but no other owner.
        assert_eq!(
            store.delete_user(&partner, &u2.id, &by()).await.unwrap(),
            DeleteUserOutcome::LastOwner,
            "[{name}] the last owner stays"
        );
        assert_eq!(
            store.delete_user(&partner, &staff.id, &by()).await.unwrap(),
            DeleteUserOutcome::Deleted(staff.clone()),
            "[{name}] a staff user can go"
        );
        assert_eq!(
            store.delete_user(&other, &theirs.id, &by()).await.unwrap(),
            DeleteUserOutcome::LastOwner,
            "[{name}] the other partner's only user"
        );
    }
}

#[tokio::test]
async fn the_last_owner_cannot_be_demoted() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let owner = new_user(name, store, &partner, Role::Owner).await;
        let viewer = new_user(name, store, &partner, Role::Viewer).await;
        assert_eq!(
            store
                .set_user_role(&partner, &owner.id, Role::Staff, &by())
                .await
                .unwrap(),
            SetRoleOutcome::LastOwner,
            "[{name}]"
        );
        let promoted = match store
            .set_user_role(&partner, &viewer.id, Role::Owner, &by())
            .await
            .unwrap()
        {
            SetRoleOutcome::Changed(u) => u,
            other => panic!("[{name}] {other:?}"),
        };
        assert_eq!(promoted.role, Role::Owner, "[{name}]");
        assert!(
            matches!(
                store
                    .set_user_role(&partner, &owner.id, Role::Viewer, &by())
                    .await
                    .unwrap(),
                SetRoleOutcome::Changed(_)
            ),
            "[{name}] another owner remains"
        );
        let roles: Vec<Role> = store
            .list_users(&partner)
            .await
            .unwrap()
            .iter()
            .map(|u| u.role)
            .collect();
        assert_eq!(roles, vec![Role::Viewer, Role::Owner], "[{name}]");
        assert_eq!(
            store
                .set_user_role(
                    &new_partner(name, store).await,
                    &owner.id,
                    Role::Owner,
                    &by()
                )
                .await
                .unwrap(),
            SetRoleOutcome::NotFound,
            "[{name}] another partner's user"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removing_two_owners_at_once_keeps_one() {
    for (name, store) in backends().await.iter() {
        for round in 0..5 {
            let partner = new_partner(name, store).await;
            let a = new_user(name, store, &partner, Role::Owner).await;
            let b = new_user(name, store, &partner, Role::Owner).await;
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let tasks: Vec<_> = [a.id.clone(), b.id.clone()]
                .into_iter()
                .enumerate()
                .map(|(i, id)| {
                    let store = Arc::clone(store);
                    let barrier = Arc::clone(&barrier);
                    let partner = partner.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        // One removal races one demotion (or two removals).
                        if i == 1 && round % 2 == 1 {
                            match store
                                .set_user_role(&partner, &id, Role::Staff, &by())
                                .await?
                            {
                                SetRoleOutcome::Changed(_) => Ok(true),
                                _ => Ok(false),
                            }
                        } else {
                            match store.delete_user(&partner, &id, &by()).await? {
                                DeleteUserOutcome::Deleted(_) => Ok::<_, StoreError>(true),
                                _ => Ok(false),
                            }
                        }
                    })
                })
                .collect();
            let mut changed = 0;
            for task in tasks {
                changed += task.await.unwrap().unwrap() as i32;
            }
            assert_eq!(changed, 1, "[{name}] exactly one change wins");
            let owners = store
                .list_users(&partner)
                .await
                .unwrap()
                .iter()
                .filter(|u| u.role == Role::Owner)
                .count();
            assert_eq!(owners, 1, "[{name}] one owner remains");
        }
    }
}

#[tokio::test]
async fn an_email_is_unique_per_partner_only() {
    for (name, store) in backends().await.iter() {
        let a = new_partner(name, store).await;
        let b = new_partner(name, store).await;
        let email = format!("{}@example.test", token());
        let at_a = user_record(&a, &email, Role::Owner);
        let at_b = user_record(&b, &email, Role::Staff);
        add_user(name, store, &at_a).await.unwrap();
        add_user(name, store, &at_b).await.unwrap();
        assert!(
            matches!(
                add_user(name, store, &user_record(&a, &email, Role::Viewer)).await,
                Err(StoreError::Taken("email"))
            ),
            "[{name}] twice in one partner"
        );
        let found: Vec<User> = store
            .users_by_email(&email)
            .await
            .unwrap()
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        assert_eq!(found, vec![at_a.clone(), at_b.clone()], "[{name}]");
        assert_eq!(
            store.user_by_email(&b, &email).await.unwrap(),
            Some(at_b),
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn a_session_ends_when_idle_and_is_touched_at_most_once_a_minute() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let user = new_user(name, store, &partner, Role::Owner).await;
        // In the past, so the purge below touches no other test's sessions.
        let t0 = micros(instant_in(2001));
        let session = format!("tok-{}", token());
        store
            .create_session(
                &session,
                &user,
                t0 + Duration::hours(12),
                &kassa_core::audit::Caller::cli("test", t0),
            )
            .await
            .unwrap();
        let idle = Duration::minutes(15);
        let live = |at: time::OffsetDateTime| {
            let store = Arc::clone(store);
            let session = session.clone();
            async move {
                store
                    .session(&session, at, at - idle)
                    .await
                    .unwrap()
                    .map(|s| s.last_seen_at)
            }
        };
        assert_eq!(live(t0 + Duration::minutes(14)).await, Some(t0), "[{name}]");
        assert_eq!(live(t0 + Duration::minutes(16)).await, None, "[{name}]");
        // Within a minute nothing is written; after it, the use counts.
        store
            .touch_session(&session, t0 + Duration::seconds(30))
            .await
            .unwrap();
        assert_eq!(live(t0 + Duration::minutes(1)).await, Some(t0), "[{name}]");
        let t1 = t0 + Duration::minutes(10);
        store.touch_session(&session, t1).await.unwrap();
        assert_eq!(live(t1 + Duration::minutes(14)).await, Some(t1), "[{name}]");
        // Never past the session's own end, however recently used.
        let t2 = t0 + Duration::hours(12) - Duration::minutes(1);
        store.touch_session(&session, t2).await.unwrap();
        assert_eq!(live(t2).await, Some(t2), "[{name}]");
        assert_eq!(live(t0 + Duration::hours(12)).await, None, "[{name}]");
        assert!(
            store
                .purge_sessions(t0 + Duration::hours(12), t0 + Duration::hours(12) - idle)
                .await
                .unwrap()
                >= 1,
            "[{name}] purged"
        );
    }
}

fn sealed() -> SealedTotp {
    SealedTotp {
        nonce: vec![1; 12],
        secret: vec![2; 36],
        last_step: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn second_factors_are_spent_once_at_sign_in() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let user = new_user(name, store, &partner, Role::Owner).await;
        let hashes: Vec<String> = (0..10).map(|i| format!("hash-{i}")).collect();
        assert!(
            store
                .enable_two_factor(&user.id, &sealed(), 100, &hashes, &by())
                .await
                .unwrap(),
            "[{name}] enabled"
        );
        assert!(
            !store
                .enable_two_factor(&user.id, &sealed(), 200, &hashes, &by())
                .await
                .unwrap(),
            "[{name}] not twice"
        );
        assert_eq!(
            store.totp_secret(&user.id).await.unwrap(),
            Some(SealedTotp {
                last_step: Some(100),
                ..sealed()
            }),
            "[{name}]"
        );
        let expires = now() + Duration::minutes(5);
        let pending = format!("pending-{}", token());
        store
            .create_pending_sign_in(&pending, std::slice::from_ref(&user.id), expires)
            .await
            .unwrap();
        let listed = store.pending_sign_in(&pending, now()).await.unwrap();
        assert_eq!(listed.len(), 1, "[{name}]");
        assert!(listed[0].user.two_factor, "[{name}]");
        let finish = |factor: Option<SecondFactor>, token: String| {
            let store = Arc::clone(store);
            let user = user.id.clone();
            let pending = pending.clone();
            async move {
                store
                    .finish_sign_in(
                        &pending,
                        &user,
                        factor.as_ref(),
                        &token,
                        now() + Duration::hours(12),
                        &kassa_core::audit::Caller::cli("test", now()),
                    )
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            finish(None, token()).await,
            FinishSignIn::FactorRefused,
            "[{name}] no code for a user with two-factor sign-in"
        );
        assert_eq!(
            finish(Some(SecondFactor::Totp { step: 100 }), token()).await,
            FinishSignIn::FactorRefused,
            "[{name}] the enrolment's code again"
        );
        assert_eq!(
            finish(
                Some(SecondFactor::RecoveryCode {
                    hash: "nope".into()
                }),
                token()
            )
            .await,
            FinishSignIn::FactorRefused,
            "[{name}] an unknown recovery code"
        );
        // Two uses of one recovery code at once: one signs in.
        let code = SecondFactor::RecoveryCode {
            hash: "hash-3".into(),
        };
        let (a, b) = tokio::join!(
            finish(Some(code.clone()), token()),
            finish(Some(code.clone()), token())
        );
        let signed_in = [&a, &b]
            .iter()
            .filter(|o| matches!(o, FinishSignIn::SignedIn(_)))
            .count();
        assert_eq!(signed_in, 1, "[{name}] {a:?} {b:?}");
        assert!(
            store
                .pending_sign_in(&pending, now())
                .await
                .unwrap()
                .is_empty(),
            "[{name}] the pending sign-in is gone"
        );
        // The code stays spent for the next sign-in; a later TOTP step passes, once.
        store
            .create_pending_sign_in(&pending, std::slice::from_ref(&user.id), expires)
            .await
            .unwrap();
        assert_eq!(
            finish(Some(code.clone()), token()).await,
            FinishSignIn::FactorRefused,
            "[{name}] spent"
        );
        let (a, b) = tokio::join!(
            finish(Some(SecondFactor::Totp { step: 101 }), token()),
            finish(Some(SecondFactor::Totp { step: 101 }), token())
        );
        assert_eq!(
            [&a, &b]
                .iter()
                .filter(|o| matches!(o, FinishSignIn::SignedIn(_)))
                .count(),
            1,
            "[{name}] {a:?} {b:?}"
        );
        assert_eq!(
            finish(Some(SecondFactor::Totp { step: 102 }), token()).await,
            FinishSignIn::NoPending,
            "[{name}] finished already"
        );
        // Turning it off spends a factor too, and forgets the secret.
        assert!(
            !store
                .disable_two_factor(
                    &user.id,
                    &SecondFactor::Totp { step: 101 },
                    &kassa_core::audit::Caller::cli("test", now())
                )
                .await
                .unwrap(),
            "[{name}] a used step"
        );
        assert!(
            store
                .disable_two_factor(
                    &user.id,
                    &SecondFactor::Totp { step: 102 },
                    &kassa_core::audit::Caller::cli("test", now())
                )
                .await
                .unwrap(),
            "[{name}]"
        );
        assert_eq!(store.totp_secret(&user.id).await.unwrap(), None, "[{name}]");
    }
}

#[tokio::test]
async fn a_pending_sign_in_lists_its_users_until_it_expires() {
    for (name, store) in backends().await.iter() {
        let a = new_partner(name, store).await;
        let b = new_partner(name, store).await;
        let email = format!("{}@example.test", token());
        let at_a = user_record(&a, &email, Role::Owner);
        let at_b = user_record(&b, &email, Role::Viewer);
        add_user(name, store, &at_a).await.unwrap();
        add_user(name, store, &at_b).await.unwrap();
        let pending = format!("pending-{}", token());
        let expires = now() + Duration::minutes(5);
        store
            .create_pending_sign_in(&pending, &[at_a.id.clone(), at_b.id.clone()], expires)
            .await
            .unwrap();
        let mut ids: Vec<UserId> = store
            .pending_sign_in(&pending, now())
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.user.id)
            .collect();
        ids.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        let mut want = vec![at_a.id.clone(), at_b.id.clone()];
        want.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        assert_eq!(ids, want, "[{name}]");
        assert!(
            store
                .pending_sign_in(&pending, expires)
                .await
                .unwrap()
                .is_empty(),
            "[{name}] expired"
        );
        let session = format!("tok-{}", token());
        assert_eq!(
            store
                .finish_sign_in(
                    &pending,
                    &at_b.id,
                    None,
                    &session,
                    expires,
                    &kassa_core::audit::Caller::cli("test", now())
                )
                .await
                .unwrap(),
            FinishSignIn::SignedIn(at_b.clone()),
            "[{name}] no second factor needed"
        );
        let signed = store
            .session(&session, now(), idle_cutoff())
            .await
            .unwrap()
            .expect("session");
        assert_eq!(signed.partner.id, b, "[{name}] the chosen partner");
        assert!(
            store
                .pending_sign_in(&pending, now())
                .await
                .unwrap()
                .is_empty(),
            "[{name}] the other choice is gone too"
        );
    }
}
