//! `kassa user`: add and list a partner's dashboard users.

use anyhow::Context;
use clap::Subcommand;
use kassa_core::audit::Caller;
use kassa_core::role::Role;
use kassa_server::admin;
use kassa_server::config::Config;

use crate::database::connect;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a dashboard user to a partner; the password is read from standard input.
    Create {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
        /// The user's email address: their sign-in name.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: passwords never go in arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// owner (everything), staff (views, payment requests, refunds) or viewer (views only).
        #[arg(long, default_value = "staff")]
        role: String,
    },
    /// List a partner's dashboard users.
    List {
        /// The partner's slug.
        #[arg(long)]
        partner: String,
    },
}

pub async fn run(command: UserCommand, config: &Config, by: &Caller) -> anyhow::Result<()> {
    let store = connect(config).await?;
    match command {
        UserCommand::Create {
            partner,
            email,
            password_stdin: _,
            role,
        } => {
            let role = Role::parse(&role).map_err(|e| anyhow::anyhow!("--role {role:?}: {e}"))?;
            let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let user =
                admin::create_user(store.as_ref(), &partner.id, &email, password, role, by).await?;
            println!(
                "created {} ({}, {}) for {}",
                user.id, user.email, user.role, partner.slug
            );
        }
        UserCommand::List { partner } => {
            let partner = admin::partner_by_slug(store.as_ref(), &partner).await?;
            for u in store.list_users(&partner.id).await? {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!("{}  {:<8} {:<6} {}", u.id, state, u.role, u.email);
            }
        }
    }
    Ok(())
}
