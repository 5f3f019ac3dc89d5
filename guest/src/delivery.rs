//! Delivery across runs: which cost days a run sends (new or changed since the state the host
//! kept), the state it leaves, and the typed batch that knows which event is which.

use std::collections::HashSet;

use crate::anomaly_events::{self, AnomalyEvent};
use crate::events;
use crate::time::{DAY_MS, format_rfc3339, parse_instant_millis};
use crate::wit::{AccountState, DeliveryState};

/// The kinds of event an account job delivers with a state of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// `dps.cost2.booked`
    Cost,
    /// `dps.cost.environment.booked`
    EnvironmentCost,
    /// `dps.usage.booked`
    Usage,
    /// `dps.cost.anomaly`
    Anomaly,
}

/// The events of one ingest, each tagged with its stream: the acknowledgements of the ingest go
/// back to each stream's [`Delivery`] by tag, not by position arithmetic.
#[derive(Debug, Default)]
pub struct Batch {
    events: Vec<String>,
    streams: Vec<Stream>,
}

impl Batch {
    pub fn push(&mut self, stream: Stream, event: String) {
        self.events.push(event);
        self.streams.push(stream);
    }

    pub fn events(&self) -> &[String] {
        &self.events
    }

    /// Of `accepted` (one per event of the batch, in order), those of `stream`'s events, in the
    /// order they were pushed.
    pub fn acknowledged(&self, stream: Stream, accepted: &[bool]) -> Vec<bool> {
        self.streams.iter().zip(accepted).filter(|(s, _)| **s == stream).map(|(_, ok)| *ok).collect()
    }
}

/// The streams of day events, each delivered with a state of its own in the account's state
/// (anomalies keep keys, not days, and are no `DayStream`): a stream that has no place to keep
/// its state cannot be planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayStream {
    Cost,
    EnvironmentCost,
    Usage,
}

impl DayStream {
    /// Its events' tag in a [`Batch`].
    fn tag(self) -> Stream {
        match self {
            DayStream::Cost => Stream::Cost,
            DayStream::EnvironmentCost => Stream::EnvironmentCost,
            DayStream::Usage => Stream::Usage,
        }
    }

    /// What earlier runs delivered of it, as the account's state keeps it.
    fn delivered_before(self, state: &AccountState) -> Option<&DeliveryState> {
        match self {
            DayStream::Cost => state.cost.as_ref(),
            DayStream::EnvironmentCost => state.environment_cost.as_ref(),
            DayStream::Usage => state.usage.as_ref(),
        }
    }

    /// Where the account's state keeps it.
    fn state(self, state: &mut AccountState) -> &mut Option<DeliveryState> {
        match self {
            DayStream::Cost => &mut state.cost,
            DayStream::EnvironmentCost => &mut state.environment_cost,
            DayStream::Usage => &mut state.usage,
        }
    }
}

/// One stream of day events read this run: what was built, which of it to send, and, once the
/// ingest answered, the state it leaves. The account job iterates its streams, so that none can
/// forget to carry its state over (a forgotten one would send everything again next run).
pub struct Planned {
    stream: DayStream,
    events: Vec<(i64, String)>,
    delivery: Delivery,
}

impl Planned {
    /// Plans `events` (each with its day's start) against what earlier runs delivered of
    /// `subscription_uuid` (a state kept for another subscription says nothing about this one).
    pub fn new(
        stream: DayStream,
        previous: &AccountState,
        subscription_uuid: &str,
        events: Vec<(i64, String)>,
        window_days: u32,
        now: i64,
    ) -> Planned {
        let delivered = stream.delivered_before(previous).filter(|s| s.subscription_uuid == subscription_uuid);
        let delivery = Delivery::plan(delivered, &events, window_days, now);
        Planned { stream, events, delivery }
    }

    /// The events to send, with `exportedAt`, into `batch` under this stream's tag.
    pub fn push_into(&self, batch: &mut Batch, exported_at: &str) {
        for &index in &self.delivery.to_send {
            batch.push(self.stream.tag(), events::with_exported_at(&self.events[index].1, exported_at));
        }
    }

    /// Events built, and of them those not sent because an earlier run delivered them.
    pub fn built_and_skipped(&self) -> (u32, u32) {
        (self.events.len() as u32, self.delivery.skipped)
    }

    /// Keeps in `state` what this stream delivered, from the acknowledgements of `batch`.
    pub fn keep_delivered(&self, state: &mut AccountState, subscription_uuid: &str, batch: &Batch, accepted: &[bool]) {
        let acknowledged = batch.acknowledged(self.stream.tag(), accepted);
        *self.stream.state(state) = Some(self.delivery.next_state(subscription_uuid, &self.events, &acknowledged));
    }
}

/// Which cost days to send, given what earlier runs delivered.
pub struct Delivery {
    /// Indexes into the day list.
    pub to_send: Vec<usize>,
    pub skipped: u32,
    frozen_before: Option<i64>,
    window_start: i64,
    already_sent: HashSet<String>,
    now: i64,
}

impl Delivery {
    /// `now` is the run's time (ms since the epoch): a state frozen after it was not left by a
    /// run that confirmed those days (a record from the future poisoned an older version's
    /// state), and is not trusted: every day is then compared by id.
    pub fn plan(state: Option<&DeliveryState>, days: &[(i64, String)], window_days: u32, now: i64) -> Delivery {
        let frozen_before = state
            .and_then(|s| s.frozen_before.as_deref())
            .and_then(parse_instant_millis)
            .filter(|&frozen| frozen <= now);
        let already_sent: HashSet<String> = state.map(|s| s.sent.iter().cloned().collect()).unwrap_or_default();
        let newest = days.last().map_or(0, |(start, _)| *start);
        // 0 days: nothing is ever final, every day is compared by id.
        let window_start = if window_days == 0 { i64::MIN } else { newest - i64::from(window_days - 1) * DAY_MS };
        let mut to_send = Vec::new();
        let mut skipped = 0;
        for (index, (start, event)) in days.iter().enumerate() {
            let delivered = frozen_before.is_some_and(|frozen| *start < frozen)
                || events::event_id_of(event).is_some_and(|id| already_sent.contains(id));
            if delivered {
                skipped += 1;
            } else {
                to_send.push(index);
            }
        }
        Delivery { to_send, skipped, frozen_before, window_start, already_sent, now }
    }

    /// The state after this run: days before the window are final once every one of them was
    /// delivered; within the window, the ids accepted now or before. It is never frozen after
    /// the run's time.
    pub fn next_state(&self, subscription_uuid: &str, days: &[(i64, String)], accepted: &[bool]) -> DeliveryState {
        let mut delivered: HashSet<usize> =
            self.to_send.iter().zip(accepted).filter(|(_, ok)| **ok).map(|(index, _)| *index).collect();
        let earliest_undelivered = self.to_send.iter().filter(|i| !delivered.contains(i)).map(|&i| days[i].0).min();
        let mut frozen = self.window_start.min(earliest_undelivered.unwrap_or(i64::MAX));
        if let Some(previous) = self.frozen_before {
            frozen = frozen.max(previous);
        }
        // Only days this run confirmed, none of them in the future of its clock, move the state.
        frozen = frozen.min(self.now);
        delivered.extend(days.iter().enumerate().filter_map(|(index, (_, event))| {
            events::event_id_of(event).filter(|id| self.already_sent.contains(*id)).map(|_| index)
        }));
        let mut sent: Vec<String> = delivered
            .into_iter()
            .filter(|&index| days[index].0 >= frozen)
            .filter_map(|index| events::event_id_of(&days[index].1).map(str::to_owned))
            .collect();
        sent.sort_unstable();
        DeliveryState {
            subscription_uuid: subscription_uuid.to_owned(),
            frozen_before: (!days.is_empty() && frozen > i64::MIN).then(|| format_rfc3339(frozen)),
            sent,
        }
    }
}

/// Cost anomalies are sent once: of `built`, the indexes of those whose key no earlier run had
/// delivered.
pub fn anomalies_to_send(delivered_before: &[String], built: &[AnomalyEvent]) -> Vec<usize> {
    (0..built.len()).filter(|&index| !delivered_before.contains(&built[index].key)).collect()
}

/// The anomaly keys to keep: those delivered before or accepted now (`accepted`, one per index of
/// `to_send`), without those of days before `first_judged`, which are never judged again.
pub fn anomaly_keys(
    delivered_before: &[String],
    built: &[AnomalyEvent],
    to_send: &[usize],
    accepted: &[bool],
    first_judged: i64,
) -> Vec<String> {
    let now = to_send.iter().zip(accepted).filter(|(_, ok)| **ok).map(|(&index, _)| &built[index].key);
    let mut keys: Vec<String> = delivered_before
        .iter()
        .chain(now)
        .filter(|key| anomaly_events::day_of_key(key).is_some_and(|day| day >= first_judged))
        .cloned()
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_gives_each_stream_its_own_acknowledgements() {
        let mut batch = Batch::default();
        batch.push(Stream::Cost, "c0".into());
        batch.push(Stream::EnvironmentCost, "e0".into());
        batch.push(Stream::Cost, "c1".into());
        assert_eq!(batch.events(), ["c0", "e0", "c1"]);
        let accepted = [true, false, false];
        assert_eq!(batch.acknowledged(Stream::Cost, &accepted), [true, false]);
        assert_eq!(batch.acknowledged(Stream::EnvironmentCost, &accepted), [false]);
    }

    /// An `event.id` of the day's (36 characters, as every id).
    fn id(date: &str) -> String {
        format!("{:x<36}", format!("id-{date}-"))
    }

    fn day(date: &str) -> (i64, String) {
        let start = parse_instant_millis(date).unwrap();
        (start, format!(r#"{{"event.id":"{}"}}"#, id(date)))
    }

    #[test]
    fn a_state_frozen_after_the_runs_time_is_not_trusted_and_never_written() {
        let now = parse_instant_millis("2026-11-23T06:00:00Z").unwrap();
        let days = [day("2026-11-20"), day("2026-11-21"), day("2026-11-22")];
        // Left by a run that believed a record of 9999-12-31: every day would count as delivered.
        let poisoned = DeliveryState {
            subscription_uuid: "s".into(),
            frozen_before: Some("9999-12-01T00:00:00Z".into()),
            sent: vec![id("9999-12-31")],
        };
        let delivery = Delivery::plan(Some(&poisoned), &days, 1, now);
        assert_eq!(delivery.to_send, [0, 1, 2], "every real day is sent");
        let state = delivery.next_state("s", &days, &[true, true, true]);
        let frozen = parse_instant_millis(state.frozen_before.as_deref().unwrap()).unwrap();
        assert!(frozen <= now, "{state:?}");
        // A run whose newest day lies ahead of its clock cannot freeze past the clock either.
        let ahead = [day("2026-11-22"), day("2027-01-21")];
        let delivery = Delivery::plan(None, &ahead, 1, now);
        let state = delivery.next_state("s", &ahead, &[true, true]);
        assert_eq!(state.frozen_before.as_deref(), Some("2026-11-23T06:00:00Z"));
    }

    #[test]
    fn a_planned_stream_keeps_its_own_delivery_and_leaves_the_others_as_they_were() {
        let now = parse_instant_millis("2026-11-23T06:00:00Z").unwrap();
        let usage_before = DeliveryState { subscription_uuid: "s".into(), frozen_before: None, sent: vec!["u".into()] };
        let previous = AccountState {
            cost: Some(DeliveryState {
                subscription_uuid: "s".into(),
                frozen_before: None,
                sent: vec![id("2026-11-20")],
            }),
            usage: Some(usage_before.clone()),
            anomalies: vec!["account||spike|2026-11-20".into()],
            ..AccountState::default()
        };
        let days = vec![day("2026-11-20"), day("2026-11-21")];
        let planned = Planned::new(DayStream::Cost, &previous, "s", days, 30, now);
        assert_eq!(planned.built_and_skipped(), (2, 1), "the day delivered before is skipped");
        let mut batch = Batch::default();
        planned.push_into(&mut batch, "2026-11-23T06:00:00Z");
        assert_eq!(batch.events().len(), 1);
        let mut state = previous.clone();
        planned.keep_delivered(&mut state, "s", &batch, &[true]);
        assert_eq!(state.cost.unwrap().sent, [id("2026-11-20"), id("2026-11-21")]);
        assert_eq!(state.usage, Some(usage_before), "a stream not read this run keeps its state");
        assert_eq!(state.anomalies, previous.anomalies);
        // A state kept for another subscription says nothing about this one.
        let other = Planned::new(DayStream::Cost, &previous, "another", vec![day("2026-11-20")], 30, now);
        assert_eq!(other.built_and_skipped(), (1, 0));
    }

    fn anomaly(key: &str) -> AnomalyEvent {
        AnomalyEvent { key: key.into(), event: format!("{{{key}}}"), message: key.into() }
    }

    #[test]
    fn an_anomaly_delivered_before_is_not_sent_again() {
        let built = [anomaly("account||spike|2026-11-20"), anomaly("account||drop|2026-11-21")];
        assert_eq!(anomalies_to_send(&["account||spike|2026-11-20".into()], &built), [1]);
        assert_eq!(anomalies_to_send(&[], &built), [0, 1]);
    }

    #[test]
    fn anomaly_keys_keep_what_was_accepted_and_forget_days_no_longer_judged() {
        let built = [anomaly("account||spike|2026-11-20"), anomaly("account||drop|2026-11-21")];
        let before = ["account||spike|2026-01-01".to_owned(), "capability|X|spike|2026-11-19".to_owned()];
        // 2026-11-01 is day 20,758.
        let keys = anomaly_keys(&before, &built, &[0, 1], &[true, false], 20_758);
        assert_eq!(keys, ["account||spike|2026-11-20", "capability|X|spike|2026-11-19"]);
    }
}
