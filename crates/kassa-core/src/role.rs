//! What a dashboard user may do (docs/api.md §9): a user's [`Role`] and the one rule,
//! [`Role::may`], that every dashboard page and form asks before it does anything.

use serde::{Deserialize, Serialize};

/// A dashboard user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything: settings, API keys, users, webhooks, security.
    Owner,
    /// Views everything; creates and cancels payment requests; refunds.
    Staff,
    /// Views only.
    Viewer,
}

/// Something a dashboard user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DashboardAction {
    /// Any page that only shows: home, transactions (and their CSV), payment requests, payouts,
    /// webhooks, settings.
    View,
    CreatePaymentRequest,
    CancelPaymentRequest,
    Refund,
    /// The partner's settings, the security settings among them.
    ManageSettings,
    ManageApiKeys,
    ManageUsers,
    /// Webhook endpoints, their secrets and delivery retries.
    ManageWebhooks,
    /// The user's own two-factor sign-in and sign-out: every signed-in user's own business.
    ManageOwnAccount,
    /// The audit log (and its CSV): who did what, from where — for owners, as the `admin` scope
    /// is for API keys.
    ViewAudit,
}

impl DashboardAction {
    pub const ALL: [DashboardAction; 10] = [
        DashboardAction::View,
        DashboardAction::CreatePaymentRequest,
        DashboardAction::CancelPaymentRequest,
        DashboardAction::Refund,
        DashboardAction::ManageSettings,
        DashboardAction::ManageApiKeys,
        DashboardAction::ManageUsers,
        DashboardAction::ManageWebhooks,
        DashboardAction::ManageOwnAccount,
        DashboardAction::ViewAudit,
    ];

    /// The action's name in messages and audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            DashboardAction::View => "view",
            DashboardAction::CreatePaymentRequest => "create_payment_request",
            DashboardAction::CancelPaymentRequest => "cancel_payment_request",
            DashboardAction::Refund => "refund",
            DashboardAction::ManageSettings => "manage_settings",
            DashboardAction::ManageApiKeys => "manage_api_keys",
            DashboardAction::ManageUsers => "manage_users",
            DashboardAction::ManageWebhooks => "manage_webhooks",
            DashboardAction::ManageOwnAccount => "manage_own_account",
            DashboardAction::ViewAudit => "view_audit",
        }
    }
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Staff, Role::Viewer];

    /// Whether a user with this role may do `action`.
    pub fn may(self, action: DashboardAction) -> bool {
        use DashboardAction::*;
        match (self, action) {
            (Role::Owner, _) => true,
            (_, View | ManageOwnAccount) => true,
            (Role::Staff, CreatePaymentRequest | CancelPaymentRequest | Refund) => true,
            (
                Role::Staff,
                ManageSettings | ManageApiKeys | ManageUsers | ManageWebhooks | ViewAudit,
            ) => false,
            (Role::Viewer, _) => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Staff => "staff",
            Role::Viewer => "viewer",
        }
    }

    /// `owner`, `staff` or `viewer`, exactly.
    pub fn parse(s: &str) -> Result<Role, RoleError> {
        match s {
            "owner" => Ok(Role::Owner),
            "staff" => Ok(Role::Staff),
            "viewer" => Ok(Role::Viewer),
            _ => Err(RoleError),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of owner, staff, viewer")]
pub struct RoleError;

impl crate::error::ValidationError for RoleError {
    fn code(&self) -> &'static str {
        "invalid_value"
    }
}

#[cfg(test)]
mod tests {
    use super::DashboardAction::*;
    use super::*;

    /// The whole rule as a table: (action, owner, staff, viewer).
    const TABLE: [(DashboardAction, bool, bool, bool); 10] = [
        (View, true, true, true),
        (CreatePaymentRequest, true, true, false),
        (CancelPaymentRequest, true, true, false),
        (Refund, true, true, false),
        (ManageSettings, true, false, false),
        (ManageApiKeys, true, false, false),
        (ManageUsers, true, false, false),
        (ManageWebhooks, true, false, false),
        (ManageOwnAccount, true, true, true),
        (ViewAudit, true, false, false),
    ];

    #[test]
    fn each_role_may_do_what_the_table_says() {
        for (action, owner, staff, viewer) in TABLE {
            assert_eq!(Role::Owner.may(action), owner, "owner {action:?}");
            assert_eq!(Role::Staff.may(action), staff, "staff {action:?}");
            assert_eq!(Role::Viewer.may(action), viewer, "viewer {action:?}");
        }
        // Every action is in the table.
        for action in DashboardAction::ALL {
            assert!(TABLE.iter().any(|(a, ..)| *a == action), "{action:?}");
        }
    }

    #[test]
    fn roles_parse_exactly() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        for bad in ["", "Owner", "admin", " staff"] {
            assert_eq!(Role::parse(bad), Err(RoleError));
        }
    }
}
