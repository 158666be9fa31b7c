//! The `box_office` projection on real Postgres, fed show events as the
//! domain evolves them: a pricing change reprices a tier from its seats
//! taken, expiries and a show's cancellation give seats back, and a batch
//! applied again, whole or in part (a replay after a crash), changes no row.

use chrono::{DateTime, TimeZone, Utc};
use ledger::box_office::pricing::{PriceStep, RefundRule};
use ledger::box_office::{
    decide_show, ticket_id, ShowCancellationProgressed, ShowCommand, ShowEvent,
    ShowReservationConfirmed, ShowReservationExpired, ShowSeatsReserved, ShowState, TierSpec,
};
use ledger::store::LogEvent;
use ledger::{AccountId, Currency, ReservationId, ShowId, StreamId};
use projections::{BoxOffice, Projection};
use sqlx::PgPool;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_900_000_000 + seconds, 0)
        .single()
        .expect("time")
}

/// The show's events, numbered as the store would, and its state.
struct Show {
    id: ShowId,
    state: ShowState,
    log: Vec<LogEvent>,
}

impl Show {
    fn push(&mut self, event: ShowEvent) {
        self.state = std::mem::take(&mut self.state).evolve(&event);
        let position = i64::try_from(self.log.len()).expect("fits") + 1;
        self.log.push(LogEvent {
            global_position: position,
            stream_id: StreamId::new(format!("show-{}", self.id.as_str())),
            stream_version: position,
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            recorded_at: at(position),
            payload: serde_json::value::RawValue::from_string(event.payload().to_string())
                .expect("JSON"),
        });
    }

    fn reserve(&mut self, account: &str, tier: u16, seats: u32) -> ReservationId {
        let show = self.state.show.as_ref().expect("show");
        let id = ReservationId::generate();
        let event = ShowEvent::SeatsReserved(ShowSeatsReserved {
            show: self.id.clone(),
            reservation_id: id,
            account: AccountId::parse(account).expect("id"),
            tier,
            seats,
            unit_price: show.tier(tier).expect("tier").current_price(),
            expires_at: at(600),
        });
        self.push(event);
        id
    }

    fn confirm(&mut self, id: ReservationId, seats: u32) {
        self.push(ShowEvent::ReservationConfirmed(ShowReservationConfirmed {
            show: self.id.clone(),
            reservation_id: id,
            tickets: (0..seats).map(|i| ticket_id(id, i)).collect(),
        }));
    }

    fn command(&mut self, command: ShowCommand) {
        for event in decide_show(&self.state, &command).expect("decided") {
            self.push(event);
        }
    }

    /// `show|tier|sold|reserved|left|price` per tier, as the domain says.
    fn domain_tiers(&self) -> Vec<String> {
        let show = self.state.show.as_ref().expect("show");
        show.tiers
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    "{}|{i}|{}|{}|{}|{}",
                    show.id.as_str(),
                    t.sold,
                    t.reserved,
                    t.seats_left(),
                    t.current_price()
                )
            })
            .collect()
    }
}

async fn apply(pool: &PgPool, events: &[LogEvent]) {
    let mut tx = pool.begin().await.expect("tx");
    BoxOffice.apply(&mut tx, events).await.expect("applied");
    tx.commit().await.expect("commit");
}

async fn rows(pool: &PgPool, sql: &'static str) -> Vec<String> {
    sqlx::query_scalar(sql).fetch_all(pool).await.expect(sql)
}

const TIERS: &str = "SELECT concat_ws('|', show_id, tier, sold, reserved, seats_left, current_price) FROM show_tiers ORDER BY show_id, tier";
const ALL: &str = "SELECT t::text FROM (SELECT show_id, status, version, position FROM shows) t UNION ALL SELECT t::text FROM show_tiers t UNION ALL SELECT t::text FROM show_reservations t UNION ALL SELECT t::text FROM tickets t ORDER BY 1";

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn tiers_follow_the_domain_and_replays_change_nothing(pool: PgPool) {
    let mut show = Show {
        id: ShowId::parse("opera").expect("id"),
        state: ShowState::default(),
        log: Vec::new(),
    };
    show.command(ShowCommand::Schedule {
        show: show.id.clone(),
        name: "Opera".into(),
        starts_at: at(86_400 * 30),
        currency: Currency::parse("EUR").expect("EUR"),
        tiers: vec![TierSpec {
            name: "stalls".into(),
            capacity: 10,
            base_price: 999,
            steps: vec![PriceStep {
                at_sold_bp: 3_000,
                raise_bp: 1_000,
            }],
        }],
        seats_per_customer_max: 10,
        reservation_ttl_s: 600,
        refund_rule: RefundRule::default(),
    });
    let a = show.reserve("ann", 0, 2);
    show.confirm(a, 2);
    let b = show.reserve("bob", 0, 1);
    // 3 of 10 taken: the 30% step applies; then a steeper rule from 20%.
    assert_eq!(show.domain_tiers(), vec!["opera|0|2|1|7|1098"]);
    show.command(ShowCommand::ChangePricing {
        tier: 0,
        steps: vec![PriceStep {
            at_sold_bp: 2_000,
            raise_bp: 5_000,
        }],
    });
    let first_half = show.log.len();
    show.push(ShowEvent::ReservationExpired(ShowReservationExpired {
        show: show.id.clone(),
        reservation_id: b,
    }));
    let c = show.reserve("cy", 0, 3);
    let d = show.reserve("dee", 0, 1);
    show.confirm(c, 3);
    let mid = show.domain_tiers();
    show.command(ShowCommand::Cancel);
    show.push(ShowEvent::CancellationProgressed(
        ShowCancellationProgressed {
            show: show.id.clone(),
            reservations_released: vec![d],
            tickets_refunded: vec![ticket_id(a, 0), ticket_id(a, 1), ticket_id(c, 0)],
        },
    ));
    let end = show.domain_tiers();

    apply(&pool, &show.log[..first_half]).await;
    assert_eq!(
        rows(&pool, TIERS).await,
        vec!["opera|0|2|1|7|1498"],
        "the new rule prices the seats already taken"
    );
    apply(&pool, &show.log[first_half..first_half + 4]).await;
    assert_eq!(rows(&pool, TIERS).await, mid);
    apply(&pool, &show.log[first_half + 4..]).await;
    assert_eq!(rows(&pool, TIERS).await, end);
    assert_eq!(end, vec!["opera|0|2|0|8|1498"]);
    let refunds = rows(
        &pool,
        "SELECT concat_ws('|', status, count(*), sum(refund)) FROM tickets GROUP BY status ORDER BY 1",
    )
    .await;
    assert_eq!(refunds, vec!["issued|2|0", "refunded|3|3496"]);

    let applied = rows(&pool, ALL).await;
    apply(&pool, &show.log).await;
    apply(&pool, &show.log[3..7]).await;
    assert_eq!(rows(&pool, ALL).await, applied, "a replay changes nothing");
}
