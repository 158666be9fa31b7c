//! What a run sends: the operations and their weights (`--mix`).
//!
//! A mix is a preset (`wallet`, `rinha`) or a list like
//! `deposit=40,withdraw=40,hold=10,post=5,void=5`. Each request draws one
//! operation with a probability proportional to its weight. The baseline
//! runs the same mix through pgbench (`-f script@weight`).

use std::fmt;

/// Largest weight of one operation; weights are relative, so this only
/// keeps their sum far from overflow.
pub const WEIGHT_MAX: u32 = 1_000_000;

/// One kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `POST /v1/accounts/{id}/deposits` on a random account.
    Deposit,
    /// `POST /v1/accounts/{id}/withdrawals` on a random account.
    Withdraw,
    /// `POST /v1/accounts/{id}/holds` on a random account (a bet placed);
    /// the worker remembers it as its pending hold.
    Hold,
    /// `POST /v1/holds/{id}/post` on the worker's pending hold, or a new
    /// hold when it has none (pgbench's `post.sql` does the same).
    Post,
    /// `POST /v1/holds/{id}/void`, likewise.
    Void,
    /// GraphQL `account(id) { balance available }` on a random account.
    Read,
    /// Rinha `POST /clientes/{1..5}/transacoes` with `"tipo": "c"`.
    RinhaCredit,
    /// Rinha `POST /clientes/{1..5}/transacoes` with `"tipo": "d"`.
    RinhaDebit,
    /// Rinha `GET /clientes/{1..5}/extrato`.
    Statement,
}

impl Op {
    pub const ALL: [Op; 9] = [
        Op::Deposit,
        Op::Withdraw,
        Op::Hold,
        Op::Post,
        Op::Void,
        Op::Read,
        Op::RinhaCredit,
        Op::RinhaDebit,
        Op::Statement,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Deposit => "deposit",
            Op::Withdraw => "withdraw",
            Op::Hold => "hold",
            Op::Post => "post",
            Op::Void => "void",
            Op::Read => "read",
            Op::RinhaCredit => "rinha_credit",
            Op::RinhaDebit => "rinha_debit",
            Op::Statement => "statement",
        }
    }

    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Index into per-operation arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the request is a command (it writes), as opposed to a read.
    pub fn is_command(self) -> bool {
        !matches!(self, Op::Read | Op::Statement)
    }

    /// Whether the operation works on the run's own `/v1` accounts (which
    /// the run must open first).
    pub fn uses_accounts(self) -> bool {
        matches!(
            self,
            Op::Deposit | Op::Withdraw | Op::Hold | Op::Post | Op::Void | Op::Read
        )
    }

    /// The pgbench script of the baseline that does the same, if any.
    pub fn baseline_script(self) -> Option<&'static str> {
        match self {
            Op::Deposit => Some("deposit.sql"),
            Op::Withdraw => Some("withdraw.sql"),
            Op::Hold => Some("hold.sql"),
            Op::Post => Some("post.sql"),
            Op::Void => Some("void.sql"),
            Op::Read => Some("read.sql"),
            Op::RinhaCredit | Op::RinhaDebit | Op::Statement => None,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Operations with weights; at least one weight is positive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// Operations with a positive weight, in `Op::ALL` order.
    weights: Vec<(Op, u32)>,
    total: u64,
}

/// The wallet preset: deposits and withdrawals, and bets placed (holds)
/// then lost (posted) or voided, in equal numbers.
pub const WALLET: &str = "deposit=40,withdraw=40,hold=10,post=5,void=5";

/// Rinha de Backend 2024/Q1's proportions: debits about twice the credits,
/// statements about 1/20 of all requests.
pub const RINHA: &str = "rinha_credit=32,rinha_debit=63,statement=5";

impl Mix {
    /// Parses a preset name or a `name=weight,...` list.
    pub fn parse(text: &str) -> Result<Mix, String> {
        let spec = match text.trim() {
            "wallet" => WALLET,
            "rinha" => RINHA,
            other => other,
        };
        let mut weights: Vec<(Op, u32)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not name=weight"))?;
            let op = Op::from_name(name.trim()).ok_or_else(|| {
                let known: Vec<&str> = Op::ALL.iter().map(|o| o.name()).collect();
                format!(
                    "unknown operation {:?}; known: {} (or a preset: wallet, rinha)",
                    name.trim(),
                    known.join(", ")
                )
            })?;
            let weight: u32 = weight.trim().parse().map_err(|_| {
                format!("the weight of {op} must be a whole number, got {weight:?}")
            })?;
            if weight > WEIGHT_MAX {
                return Err(format!("the weight of {op} is over {WEIGHT_MAX}"));
            }
            if weights.iter().any(|(o, _)| *o == op) {
                return Err(format!("{op} is given twice"));
            }
            weights.push((op, weight));
        }
        weights.retain(|(_, w)| *w > 0);
        weights.sort();
        let total = weights.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return Err(format!(
                "the mix {text:?} has no operation with a positive weight"
            ));
        }
        Ok(Mix { weights, total })
    }

    /// The operation for a draw `r` in `0..total()`; larger draws wrap.
    pub fn pick(&self, r: u64) -> Op {
        let mut r = r % self.total;
        for &(op, weight) in &self.weights {
            let weight = u64::from(weight);
            if r < weight {
                return op;
            }
            r -= weight;
        }
        // Unreachable: the weights add up to `total` and r < total.
        self.weights.last().map_or(Op::Deposit, |(op, _)| *op)
    }

    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.total
    }

    #[cfg(test)]
    pub fn weights(&self) -> &[(Op, u32)] {
        &self.weights
    }

    pub fn uses_accounts(&self) -> bool {
        self.weights.iter().any(|(op, _)| op.uses_accounts())
    }

    /// pgbench's `-f file@weight` arguments for this mix, or the operations
    /// the baseline has no script for.
    pub fn baseline_scripts(&self) -> Result<Vec<(&'static str, u32)>, String> {
        let missing: Vec<&str> = self
            .weights
            .iter()
            .filter(|(op, _)| op.baseline_script().is_none())
            .map(|(op, _)| op.name())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the baseline has no script for {}: it runs wallet operations only",
                missing.join(", ")
            ));
        }
        Ok(self
            .weights
            .iter()
            .filter_map(|(op, w)| op.baseline_script().map(|s| (s, *w)))
            .collect())
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .weights
            .iter()
            .map(|(op, w)| format!("{op}={w}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_lists_parse_to_the_same_mix() {
        assert_eq!(Mix::parse("wallet"), Mix::parse(WALLET));
        assert_eq!(
            Mix::parse("rinha").map(|m| m.to_string()),
            Ok("rinha_credit=32,rinha_debit=63,statement=5".into())
        );
        let mix = Mix::parse(" withdraw = 1, deposit=3 ,read=0").map_err(|e| e.to_string());
        assert_eq!(mix.as_ref().map(|m| m.total()), Ok(4));
        assert_eq!(
            mix.map(|m| m.to_string()),
            Ok("deposit=3,withdraw=1".into())
        );
    }

    #[test]
    fn invalid_mixes_are_refused() {
        for bad in [
            "",
            "deposit=0",
            "deposit",
            "deposit=x",
            "deposit=-1",
            "bogus=1",
            "deposit=1,deposit=2",
            "deposit=1000001",
        ] {
            assert!(Mix::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn draws_follow_the_weights_exactly() {
        let Ok(mix) = Mix::parse("deposit=2,hold=1,statement=3") else {
            panic!("mix refused");
        };
        let drawn: Vec<Op> = (0..mix.total()).map(|r| mix.pick(r)).collect();
        assert_eq!(
            drawn,
            [
                Op::Deposit,
                Op::Deposit,
                Op::Hold,
                Op::Statement,
                Op::Statement,
                Op::Statement
            ]
        );
        assert_eq!(mix.pick(mix.total()), Op::Deposit, "draws wrap");
    }

    #[test]
    fn the_rinha_preset_has_rinhas_proportions() {
        let Ok(mix) = Mix::parse("rinha") else {
            panic!("preset refused");
        };
        let weight = |op| {
            mix.weights()
                .iter()
                .find(|(o, _)| *o == op)
                .map_or(0, |(_, w)| *w)
        };
        let (credit, debit, statement) = (
            weight(Op::RinhaCredit),
            weight(Op::RinhaDebit),
            weight(Op::Statement),
        );
        assert!((debit as f64 / credit as f64 - 2.0).abs() < 0.1);
        assert_eq!(u64::from(statement) * 20, mix.total());
    }

    #[test]
    fn the_baseline_runs_wallet_mixes_only() {
        let wallet = Mix::parse("wallet").map_err(|e| e.to_string());
        assert_eq!(
            wallet.and_then(|m| m.baseline_scripts()),
            Ok(vec![
                ("deposit.sql", 40),
                ("withdraw.sql", 40),
                ("hold.sql", 10),
                ("post.sql", 5),
                ("void.sql", 5)
            ])
        );
        let rinha = Mix::parse("rinha").map_err(|e| e.to_string());
        assert!(rinha.and_then(|m| m.baseline_scripts()).is_err());
    }
}
