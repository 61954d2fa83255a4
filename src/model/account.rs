//! Accounts as pages see them: roles and who is signed in.

use serde::{Deserialize, Serialize};

/// What an account may do. Each role may do everything the roles before it
/// may (the order of the variants is the order of the roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also edits the plan and the tasks, and runs, pauses, resumes, aborts
    /// and rolls back phases.
    Operator,
    /// Also manages accounts and approval policy, and reads the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// The stored and typed name (`viewer`, `operator`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Who may do what this role may: "operators only", for a page that
    /// says why a control is missing.
    pub fn only(self) -> &'static str {
        match self {
            Role::Viewer => "signed-in accounts only",
            Role::Operator => "operators only",
            Role::Admin => "admins only",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a role: expected viewer, operator or admin"))
    }
}

/// The account a page is rendered for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub email: String,
    pub role: Role,
}

impl SignedIn {
    pub fn may(&self, role: Role) -> bool {
        self.role >= role
    }
}

/// What the admin page asks of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountAction {
    SetRole,
    Disable,
    Unlock,
}

/// An account as the admin page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    #[serde(with = "crate::model::time")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// One entry of the audit log: an event of a migration, or of no migration
/// (a sign-in, an account change).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    #[serde(with = "crate::model::time")]
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub migration: Option<String>,
    pub phase: Option<super::Phase>,
    pub kind: String,
    pub description: String,
}

/// The admin page: every account, and the latest audit entries (only those
/// whose actor contains `actor`, when given).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminView {
    pub accounts: Vec<AccountRow>,
    pub audit: Vec<AuditRow>,
    pub actor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_order() {
        assert_eq!("Operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
        let viewer = SignedIn {
            email: "v@example.com".into(),
            role: Role::Viewer,
        };
        assert!(viewer.may(Role::Viewer) && !viewer.may(Role::Operator));
    }
}
