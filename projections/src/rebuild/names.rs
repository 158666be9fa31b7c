//! The names a rebuild writes DDL with. Postgres cannot bind an identifier
//! as a parameter, so schema and table names are spliced into statements:
//! each is checked here to be a plain lowercase identifier, and quoted
//! besides, so that nothing but a name can ever get in.

use std::fmt;

/// Longest identifier Postgres keeps whole (NAMEDATALEN - 1), in bytes.
const IDENT_BYTES_MAX: usize = 63;

/// A schema or table name safe to splice into SQL: `[a-z_][a-z0-9_]*`, at
/// most 63 bytes. It displays double-quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident(String);

impl Ident {
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        let mut chars = name.chars();
        let first = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if first && rest && name.len() <= IDENT_BYTES_MAX {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "{name:?} is not a plain SQL name (a-z, 0-9 and _, not starting with a digit, at most {IDENT_BYTES_MAX} bytes)"
            ))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Quoting changes nothing for such a name, but keeps a reserved
        // word (a table called `order`, say) from breaking the statement.
        write!(f, "\"{}\"", self.0)
    }
}

/// Everything a rebuild of one projection keeps under a name of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Names {
    /// The projection, which is also its live checkpoint's key.
    pub projection: String,
    /// The schema holding the fresh copies while they are built.
    pub shadow: Ident,
    /// The schema the live tables move to at the swap, until dropped.
    pub retired: Ident,
    /// The key of the rebuild's own checkpoint.
    pub checkpoint: String,
}

impl Names {
    pub(crate) fn of(projection: &str) -> Result<Self, String> {
        let name = Ident::parse(projection)?;
        Ok(Self {
            projection: projection.to_owned(),
            shadow: Ident::parse(&format!("rebuild_{}", name.as_str()))?,
            retired: Ident::parse(&format!("retired_{}", name.as_str()))?,
            checkpoint: format!("{projection}@rebuild"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_and_display_quoted() {
        let ident = Ident::parse("account_balances").map_err(|e| e.to_string());
        assert_eq!(
            ident.map(|i| i.to_string()),
            Ok("\"account_balances\"".into())
        );
        assert!(Ident::parse("_x9").is_ok());
        assert!(Ident::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn anything_that_is_not_a_plain_name_is_refused() {
        for bad in [
            "",
            "9lives",
            "Balances",
            "a-b",
            "a b",
            "a\"b",
            "a;drop table events",
            "é",
            &"a".repeat(64),
        ] {
            assert!(Ident::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_projection_names_its_schemas_and_checkpoint() {
        let names = Names::of("balances").map_err(|e| e.to_string());
        assert_eq!(
            names,
            Ok(Names {
                projection: "balances".into(),
                shadow: Ident("rebuild_balances".into()),
                retired: Ident("retired_balances".into()),
                checkpoint: "balances@rebuild".into(),
            })
        );
        assert!(Names::of("no-dashes").is_err());
        assert!(Names::of(&"p".repeat(56)).is_err(), "rebuild_ + 56 > 63");
    }
}
