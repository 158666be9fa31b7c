//! Money: amounts are `i64` minor units (cents) of one currency. No floats.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::Rejection;

/// ISO-4217-shaped currency code: exactly three ASCII capital letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, Rejection> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(Rejection::InvalidCurrency(format!(
                "{code:?} is not three capital letters (e.g. EUR)"
            )));
        }
        Ok(Self([bytes[0], bytes[1], bytes[2]]))
    }

    pub fn as_str(&self) -> &str {
        // The constructor admits only ASCII capitals, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl TryFrom<String> for Currency {
    type Error = Rejection;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

impl JsonSchema for Currency {
    fn schema_name() -> Cow<'static, str> {
        "Currency".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "ISO 4217 currency code: three capital letters.",
            "type": "string",
            "pattern": "^[A-Z]{3}$"
        })
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strictly positive amount of minor units. Zero and negative amounts
/// cannot be built, so no transfer moves nothing or moves money backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Amount(i64);

impl Amount {
    pub fn new(minor_units: i64) -> Result<Self, Rejection> {
        if minor_units <= 0 {
            return Err(Rejection::InvalidAmount(format!(
                "{minor_units} is not a positive number of minor units"
            )));
        }
        Ok(Self(minor_units))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Amount {
    type Error = Rejection;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl JsonSchema for Amount {
    fn schema_name() -> Cow<'static, str> {
        "Amount".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A positive whole number of minor units (cents) of the currency.",
            "type": "integer",
            "format": "int64",
            "minimum": 1
        })
    }
}

impl From<Amount> for i64 {
    fn from(value: Amount) -> Self {
        value.0
    }
}

/// How far below zero an account may go: `balance >= -limit`. Never negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct CreditLimit(i64);

impl CreditLimit {
    pub const ZERO: Self = Self(0);

    pub fn new(minor_units: i64) -> Result<Self, Rejection> {
        if minor_units < 0 {
            return Err(Rejection::InvalidCreditLimit(format!(
                "{minor_units} is negative; a credit limit is 0 or more"
            )));
        }
        Ok(Self(minor_units))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for CreditLimit {
    type Error = Rejection;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl JsonSchema for CreditLimit {
    fn schema_name() -> Cow<'static, str> {
        "CreditLimit".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "How far below zero the account may go, in minor units: balance >= -limit.",
            "type": "integer",
            "format": "int64",
            "minimum": 0
        })
    }
}

impl From<CreditLimit> for i64 {
    fn from(value: CreditLimit) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_must_be_positive() {
        assert!(Amount::new(1).is_ok());
        assert_eq!(Amount::new(0).map_err(|r| r.code()), Err("invalid_amount"));
        assert_eq!(Amount::new(-5).map_err(|r| r.code()), Err("invalid_amount"));
    }

    #[test]
    fn currencies_are_three_capitals() {
        assert_eq!(
            Currency::parse("EUR").map(|c| c.to_string()),
            Ok("EUR".into())
        );
        for bad in ["eur", "EU", "EURO", "E1R", "", "ÉUR"] {
            assert_eq!(
                Currency::parse(bad).map_err(|r| r.code()),
                Err("invalid_currency")
            );
        }
    }

    #[test]
    fn credit_limits_are_not_negative() {
        assert!(CreditLimit::new(0).is_ok());
        assert_eq!(
            CreditLimit::new(-1).map_err(|r| r.code()),
            Err("invalid_credit_limit")
        );
    }

    #[test]
    fn serde_refuses_invalid_values() {
        assert!(serde_json::from_str::<Amount>("0").is_err());
        assert!(serde_json::from_str::<Currency>("\"usd\"").is_err());
        assert_eq!(
            serde_json::to_string(&Amount::new(42).ok()).ok(),
            Some("42".into())
        );
    }
}
