//! The wallet's side of sportsbook bets: the stake's hold, the legs'
//! results as their markets settle, what the bet returned, payouts and
//! their reversals when a result is corrected, and cash-out.
//!
//! Bet holds are kept apart from `Wallet::holds`: the generic hold API
//! (`PostHold`, `VoidHold`) must never resolve a bet's stake, which only
//! settlement and cash-out may.
//!
//! Transfer ids of payouts, reversals and cash-outs are UUID v5 of (bet,
//! settlement or offer, kind): deciding stays pure (no id is generated
//! inside), and a settlement process that sends the same command twice
//! derives the same ids.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::decide::{covers, fits, transfer};
use super::event::{
    BetCashedOut, BetLegPlaced, BetLegSettled, BetPaid, BetPayoutReversed, BetPlaced, BetSettled,
    BetVoided, CashOutOffered, WalletEvent,
};
use super::{HoldStatus, Wallet};
use crate::book::Side;
use crate::sportsbook::odds::Odds;
use crate::sportsbook::settle::{self, LegResult};
use crate::{
    AccountId, Amount, BetId, HoldId, MarketId, OfferId, Phase, Rejection, SettlementId, Transfer,
    TransferCode, TransferId,
};

/// A bet as its wallet sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bet {
    pub stake: Amount,
    /// The stake's hold (pending until the bet settles or is cashed out).
    pub transfer: Transfer,
    pub legs: Vec<BetLeg>,
    /// The legs' odds combined.
    pub odds: Odds,
    pub payout_if_wins: i64,
    pub status: BetStatus,
    /// The latest cash-out offer made, if any.
    pub offer: Option<CashOutOffer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetLeg {
    pub market: MarketId,
    pub outcome: u16,
    pub odds: Odds,
    /// The settlement that decided this leg, and what it decided.
    pub result: Option<(SettlementId, LegResult)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BetStatus {
    Open,
    /// Every leg has a result. `returned` is what the player got back in
    /// total under `settlement_id` (the last one to change it); `hold` says
    /// whether the stake went to the house (posted) or never moved (voided).
    Settled {
        returned: i64,
        hold: HoldStatus,
        settlement_id: SettlementId,
    },
    CashedOut {
        amount: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CashOutOffer {
    pub offer_id: OfferId,
    pub amount: Amount,
    pub expires_at: DateTime<Utc>,
}

impl Bet {
    fn leg_results(&self) -> Option<Vec<(Odds, LegResult)>> {
        self.legs
            .iter()
            .map(|leg| leg.result.map(|(_, result)| (leg.odds, result)))
            .collect()
    }
}

/// Folds a bet event into the wallet's bets (the balance is done by the
/// caller, through the event's transfer).
pub(super) fn evolve(wallet: &mut Wallet, event: &WalletEvent) {
    if let WalletEvent::BetPlaced(e) = event {
        wallet.bets.insert(e.bet_id, Arc::new(placed(e)));
        return;
    }
    let bet_id = match event {
        WalletEvent::BetLegSettled(e) => e.bet_id,
        WalletEvent::BetSettled(e) => e.bet_id,
        WalletEvent::BetVoided(e) => e.bet_id,
        WalletEvent::CashOutOffered(e) => e.bet_id,
        WalletEvent::BetCashedOut(e) => e.bet_id,
        // Payouts and reversals only move money.
        _ => return,
    };
    let Some(bet) = wallet.bets.get_mut(&bet_id).map(Arc::make_mut) else {
        return;
    };
    match event {
        WalletEvent::BetLegSettled(e) => {
            set_leg(bet, &e.market, e.settlement_id, e.result);
            // A re-settled leg of a settled bet: what the bet returns is
            // recomputed over all its legs (the payout events that follow
            // move the difference).
            if let BetStatus::Settled { hold, .. } = bet.status {
                if let Some(legs) = bet.leg_results() {
                    bet.status = BetStatus::Settled {
                        returned: settle::returned(bet.stake.get(), &legs),
                        hold,
                        settlement_id: e.settlement_id,
                    };
                }
            }
        }
        WalletEvent::BetSettled(e) => {
            set_leg(bet, &e.market, e.settlement_id, e.result);
            bet.status = BetStatus::Settled {
                returned: e.returned,
                hold: HoldStatus::Posted,
                settlement_id: e.settlement_id,
            };
        }
        WalletEvent::BetVoided(e) => {
            set_leg(bet, &e.market, e.settlement_id, e.result);
            bet.status = BetStatus::Settled {
                returned: bet.stake.get(),
                hold: HoldStatus::Voided,
                settlement_id: e.settlement_id,
            };
        }
        WalletEvent::CashOutOffered(e) => {
            bet.offer = Some(CashOutOffer {
                offer_id: e.offer_id,
                amount: e.amount,
                expires_at: e.expires_at,
            });
        }
        WalletEvent::BetCashedOut(e) => {
            bet.status = BetStatus::CashedOut {
                amount: e.amount.get(),
            };
        }
        _ => {}
    }
}

fn placed(e: &BetPlaced) -> Bet {
    Bet {
        stake: e.transfer.amount,
        transfer: e.transfer.clone(),
        legs: e
            .legs
            .iter()
            .map(|leg| BetLeg {
                market: leg.market.clone(),
                outcome: leg.outcome,
                odds: leg.odds,
                result: None,
            })
            .collect(),
        odds: e.odds,
        payout_if_wins: e.payout_if_wins,
        status: BetStatus::Open,
        offer: None,
    }
}

fn set_leg(bet: &mut Bet, market: &MarketId, settlement_id: SettlementId, result: LegResult) {
    if let Some(leg) = bet.legs.iter_mut().find(|l| &l.market == market) {
        leg.result = Some((settlement_id, result));
    }
}

/// The `bet_placed` event of a bet `decide_bet` has accepted on the
/// markets' side: checks only what the wallet decides (a fresh bet id, and
/// funds by the same rule as a hold).
pub(crate) fn place(
    wallet: &Wallet,
    bet_id: BetId,
    stake: Amount,
    legs: Vec<BetLegPlaced>,
    odds: Odds,
    payout_if_wins: i64,
) -> Result<WalletEvent, Rejection> {
    // The stake's transfer takes the bet's UUID, so it must not collide
    // with another bet's or a generic hold's.
    let hold_id = HoldId::from_uuid(bet_id.as_uuid());
    if wallet.bets.contains_key(&bet_id) || wallet.holds.contains_key(&hold_id) {
        return Err(Rejection::InvalidBet(format!(
            "bet id {bet_id} is already used"
        )));
    }
    covers(wallet, stake)?;
    fits(wallet.balance, Side::Debit, stake, Phase::PendingPlaced)?;
    Ok(WalletEvent::BetPlaced(BetPlaced {
        bet_id,
        transfer: transfer(
            TransferId::from_uuid(bet_id.as_uuid()),
            wallet.id.clone(),
            AccountId::house(),
            stake,
            wallet.currency,
            TransferCode::Stake,
        ),
        legs,
        odds,
        payout_if_wins,
    }))
}

/// The namespace of derived bet transfer ids (a fixed, random v4 UUID).
const TRANSFER_NAMESPACE: Uuid = Uuid::from_u128(0x5b0e_8f3c_2a6d_4e71_9c34_d1f0_a7b2_6e58);

/// The id of a transfer a bet causes, derived from the bet, the settlement
/// or offer that causes it, and its kind: one id per (bet, cause, kind).
pub fn derived_transfer_id(bet_id: BetId, cause: Uuid, kind: TransferCode) -> TransferId {
    let mut name = Vec::with_capacity(48);
    name.extend_from_slice(bet_id.as_uuid().as_bytes());
    name.extend_from_slice(cause.as_bytes());
    let kind: &[u8] = match kind {
        TransferCode::Payout => b"payout",
        TransferCode::PayoutReversal => b"payout_reversal",
        TransferCode::CashOut => b"cash_out",
        TransferCode::Deposit => b"deposit",
        TransferCode::Withdrawal => b"withdrawal",
        TransferCode::Hold => b"hold",
        TransferCode::Stake => b"stake",
        TransferCode::Ticket => b"ticket",
        TransferCode::TicketRefund => b"ticket_refund",
        TransferCode::PoolEntry => b"pool_entry",
        TransferCode::PoolPayout => b"pool_payout",
        TransferCode::PoolRefund => b"pool_refund",
        TransferCode::Rake => b"rake",
    };
    name.extend_from_slice(kind);
    TransferId::from_uuid(Uuid::new_v5(&TRANSFER_NAMESPACE, &name))
}

/// A leg's result from one of its market's settlements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleLeg {
    pub bet_id: BetId,
    pub market: MarketId,
    pub settlement_id: SettlementId,
    /// The settlement this one corrects, or `None` for the leg's first.
    pub replaces: Option<SettlementId>,
    pub result: LegResult,
}

pub(super) fn settle_leg(wallet: &Wallet, cmd: &SettleLeg) -> Result<Vec<WalletEvent>, Rejection> {
    let bet = wallet.bets.get(&cmd.bet_id).ok_or(Rejection::BetNotFound)?;
    if matches!(bet.status, BetStatus::CashedOut { .. }) {
        // The bet left its markets when it was cashed out: nothing to do.
        return Ok(Vec::new());
    }
    let index = bet
        .legs
        .iter()
        .position(|leg| leg.market == cmd.market)
        .ok_or_else(|| Rejection::InvalidBet(format!("the bet has no leg on {}", cmd.market)))?;
    let current = bet.legs[index].result.map(|(id, _)| id);
    if current == Some(cmd.settlement_id) {
        // A settlement process may send a leg twice (it resumes after its
        // last recorded progress): the second is a no-op.
        return Ok(Vec::new());
    }
    match cmd.replaces {
        None if current.is_some() => return Err(Rejection::BetAlreadySettled),
        Some(replaced) if current != Some(replaced) => return Err(Rejection::SettlementNotFound),
        _ => {}
    }
    let leg_settled = || {
        WalletEvent::BetLegSettled(BetLegSettled {
            bet_id: cmd.bet_id,
            market: cmd.market.clone(),
            settlement_id: cmd.settlement_id,
            replaces: cmd.replaces,
            result: cmd.result,
        })
    };
    let results: Option<Vec<(Odds, LegResult)>> = bet
        .legs
        .iter()
        .enumerate()
        .map(|(i, leg)| {
            let result = if i == index {
                Some(cmd.result)
            } else {
                leg.result.map(|(_, r)| r)
            };
            result.map(|r| (leg.odds, r))
        })
        .collect();
    let Some(results) = results else {
        // Other legs are still open: the bet settles with its last leg.
        return Ok(vec![leg_settled()]);
    };
    let returned = settle::returned(bet.stake.get(), &results);
    match bet.status {
        BetStatus::Open => first_settlement(wallet, bet, cmd, &results, returned),
        BetStatus::Settled {
            returned: before,
            settlement_id,
            ..
        } => {
            let mut events = vec![leg_settled()];
            events.extend(repay(
                wallet,
                cmd,
                Returned {
                    before,
                    paid_under: settlement_id,
                },
                returned,
            )?);
            Ok(events)
        }
        BetStatus::CashedOut { .. } => Ok(Vec::new()),
    }
}

fn first_settlement(
    wallet: &Wallet,
    bet: &Bet,
    cmd: &SettleLeg,
    results: &[(Odds, LegResult)],
    returned: i64,
) -> Result<Vec<WalletEvent>, Rejection> {
    if results.iter().all(|(_, r)| *r == LegResult::Void) {
        return Ok(vec![WalletEvent::BetVoided(BetVoided {
            bet_id: cmd.bet_id,
            market: cmd.market.clone(),
            settlement_id: cmd.settlement_id,
            result: cmd.result,
            transfer: bet.transfer.clone(),
        })]);
    }
    // The hold's posting moves nothing the wallet still has (the pending
    // debit becomes a posted one), so the payout is checked alone.
    let mut balance = wallet.balance;
    let payout = positive(returned)
        .map(|amount| payout(wallet, &mut balance, cmd.bet_id, cmd.settlement_id, amount))
        .transpose()?;
    Ok(vec![WalletEvent::BetSettled(BetSettled {
        bet_id: cmd.bet_id,
        market: cmd.market.clone(),
        settlement_id: cmd.settlement_id,
        result: cmd.result,
        transfer: bet.transfer.clone(),
        returned,
        payout,
    })])
}

/// What a settled bet had returned, and under which settlement.
struct Returned {
    before: i64,
    paid_under: SettlementId,
}

/// The money of a re-settlement: the previous return taken back, the new
/// one paid. When both are equal nothing moves: the net is the same, and
/// the player's statement shows no pair of movements that cancel out.
fn repay(
    wallet: &Wallet,
    cmd: &SettleLeg,
    previous: Returned,
    returned: i64,
) -> Result<Vec<WalletEvent>, Rejection> {
    let mut events = Vec::new();
    if previous.before == returned {
        return Ok(events);
    }
    let mut balance = wallet.balance;
    if let Some(amount) = positive(previous.before) {
        // No limit check: the player was paid money that was not theirs,
        // so the reversal may take the wallet below its credit limit; the
        // operator collects the difference.
        let transfer = transfer(
            derived_transfer_id(
                cmd.bet_id,
                previous.paid_under.as_uuid(),
                TransferCode::PayoutReversal,
            ),
            wallet.id.clone(),
            AccountId::house(),
            amount,
            wallet.currency,
            TransferCode::PayoutReversal,
        );
        balance = fits(balance, Side::Debit, amount, Phase::Posted)?;
        events.push(WalletEvent::BetPayoutReversed(BetPayoutReversed {
            bet_id: cmd.bet_id,
            settlement_id: previous.paid_under,
            replaced_by: cmd.settlement_id,
            transfer,
        }));
    }
    if let Some(amount) = positive(returned) {
        events.push(paid(
            wallet,
            &mut balance,
            cmd.bet_id,
            cmd.settlement_id,
            amount,
        )?);
    }
    Ok(events)
}

fn positive(amount: i64) -> Option<Amount> {
    Amount::new(amount).ok()
}

fn paid(
    wallet: &Wallet,
    balance: &mut crate::book::Balance,
    bet_id: BetId,
    settlement_id: SettlementId,
    amount: Amount,
) -> Result<WalletEvent, Rejection> {
    Ok(WalletEvent::BetPaid(BetPaid {
        bet_id,
        settlement_id: Some(settlement_id),
        transfer: payout(wallet, balance, bet_id, settlement_id, amount)?,
    }))
}

/// What a bet returned under a settlement, paid by the house (its id
/// derived from both, so a settlement sent twice pays under one id).
fn payout(
    wallet: &Wallet,
    balance: &mut crate::book::Balance,
    bet_id: BetId,
    settlement_id: SettlementId,
    amount: Amount,
) -> Result<Transfer, Rejection> {
    *balance = fits(*balance, Side::Credit, amount, Phase::Posted)?;
    Ok(transfer(
        derived_transfer_id(bet_id, settlement_id.as_uuid(), TransferCode::Payout),
        AccountId::house(),
        wallet.id.clone(),
        amount,
        wallet.currency,
        TransferCode::Payout,
    ))
}

/// The house offers to buy an open bet back. `current_odds` are the bet's
/// legs' odds now, combined (`sportsbook::bet::current_odds` computes them
/// from the markets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferCashOut {
    pub bet_id: BetId,
    pub offer_id: OfferId,
    pub current_odds: Odds,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub(super) fn offer_cash_out(
    wallet: &Wallet,
    cmd: &OfferCashOut,
) -> Result<Vec<WalletEvent>, Rejection> {
    let bet = wallet.bets.get(&cmd.bet_id).ok_or(Rejection::BetNotFound)?;
    let lost = bet
        .legs
        .iter()
        .any(|leg| matches!(leg.result, Some((_, LegResult::Lost))));
    if bet.status != BetStatus::Open || lost {
        return Err(Rejection::CashOutUnavailable);
    }
    if cmd.expires_at <= cmd.now {
        return Err(Rejection::OfferExpired);
    }
    let amount = settle::cash_out_offer(bet.stake.get(), bet.odds, cmd.current_odds);
    let amount = positive(amount).ok_or(Rejection::CashOutUnavailable)?;
    Ok(vec![WalletEvent::CashOutOffered(CashOutOffered {
        bet_id: cmd.bet_id,
        offer_id: cmd.offer_id,
        amount,
        expires_at: cmd.expires_at,
    })])
}

/// The player accepts the offer `offer_id` at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptCashOut {
    pub bet_id: BetId,
    pub offer_id: OfferId,
    pub now: DateTime<Utc>,
}

pub(super) fn accept_cash_out(
    wallet: &Wallet,
    cmd: &AcceptCashOut,
) -> Result<Vec<WalletEvent>, Rejection> {
    let bet = wallet.bets.get(&cmd.bet_id).ok_or(Rejection::BetNotFound)?;
    let offer = bet
        .offer
        .filter(|o| o.offer_id == cmd.offer_id)
        .ok_or(Rejection::OfferNotFound)?;
    if cmd.now > offer.expires_at {
        return Err(Rejection::OfferExpired);
    }
    if bet.status != BetStatus::Open {
        return Err(Rejection::CashOutUnavailable);
    }
    let mut balance = wallet.balance;
    balance = fits(balance, Side::Debit, bet.stake, Phase::PendingPosted)?;
    fits(balance, Side::Credit, offer.amount, Phase::Posted)?;
    let payout = transfer(
        derived_transfer_id(cmd.bet_id, cmd.offer_id.as_uuid(), TransferCode::CashOut),
        AccountId::house(),
        wallet.id.clone(),
        offer.amount,
        wallet.currency,
        TransferCode::CashOut,
    );
    Ok(vec![
        WalletEvent::BetCashedOut(BetCashedOut {
            bet_id: cmd.bet_id,
            offer_id: cmd.offer_id,
            transfer: bet.transfer.clone(),
            amount: offer.amount,
        }),
        WalletEvent::BetPaid(BetPaid {
            bet_id: cmd.bet_id,
            settlement_id: None,
            transfer: payout,
        }),
    ])
}
