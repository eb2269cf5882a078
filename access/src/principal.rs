//! A caller once known: its name, the tables it may touch and what it may do to them.

use crate::AccessError;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Pinot's access types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Query a table, read its definition, segments and status.
    Read,
    /// Create a table or schema.
    Create,
    /// Change one: its config, its data (uploads), its consumption.
    Update,
    /// Drop a table, a schema or a segment.
    Delete,
}

impl Permission {
    pub const ALL: [Permission; 4] = [Permission::Read, Permission::Create, Permission::Update, Permission::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Create => "CREATE",
            Permission::Update => "UPDATE",
            Permission::Delete => "DELETE",
        }
    }

    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(name))
    }
}

/// Which tables a principal's permissions cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableScope {
    All,
    /// Raw table names (`t`, never `t_OFFLINE`).
    Only(BTreeSet<String>),
}

/// A known caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    name: Arc<str>,
    tables: TableScope,
    permissions: BTreeSet<Permission>,
}

impl Principal {
    pub fn new(name: &str, tables: TableScope, permissions: impl IntoIterator<Item = Permission>) -> Principal {
        Principal { name: Arc::from(name), tables, permissions: permissions.into_iter().collect() }
    }

    /// Everyone, when no users are configured: every permission on every table.
    pub fn anonymous() -> Principal {
        Principal::new("anonymous", TableScope::All, Permission::ALL)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this principal may do `permission` to `table` (a raw name or one with
    /// Pinot's `_OFFLINE` / `_REALTIME` suffix).
    pub fn may(&self, permission: Permission, table: &str) -> bool {
        self.permissions.contains(&permission)
            && match &self.tables {
                TableScope::All => true,
                TableScope::Only(tables) => tables.contains(raw_table_name(table)),
            }
    }

    /// [`Principal::may`] as a result naming what was missing.
    pub fn check(&self, permission: Permission, table: &str) -> Result<(), AccessError> {
        if self.may(permission, table) {
            return Ok(());
        }
        Err(AccessError::Denied {
            user: self.name.to_string(),
            permission: permission.as_str(),
            table: raw_table_name(table).to_string(),
        })
    }

    /// Whether this principal may do `permission` to every table, whatever its name.
    pub fn may_everywhere(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission) && self.tables == TableScope::All
    }

    /// Whether this principal may read every table (so listings need no filtering).
    pub fn reads_everything(&self) -> bool {
        self.may_everywhere(Permission::Read)
    }
}

/// `t` of `t_OFFLINE` / `t_REALTIME`.
fn raw_table_name(table: &str) -> &str {
    table.strip_suffix("_OFFLINE").or_else(|| table.strip_suffix("_REALTIME")).unwrap_or(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_cover_only_their_tables() {
        let reader = Principal::new("r", TableScope::Only(["t".to_string()].into()), [Permission::Read]);
        assert!(reader.may(Permission::Read, "t"));
        assert!(reader.may(Permission::Read, "t_OFFLINE"));
        assert!(!reader.may(Permission::Read, "u"));
        assert!(!reader.may(Permission::Delete, "t"));
        let denied = reader.check(Permission::Delete, "t_REALTIME").unwrap_err().to_string();
        assert_eq!(denied, "permission denied: user \"r\" lacks DELETE on table \"t\"");
        assert!(Principal::anonymous().reads_everything());
        assert!(!reader.reads_everything());
    }
}
