//! SparkPost webhook batches: `[{"msys": {"message_event": {...}}}, ...]`.
//!
//! `delivery`; `bounce` and `out_of_band` with their `bounce_class`; `delay` (deferred);
//! `policy_rejection`, `generation_failure` and `generation_rejection` (SparkPost did not send:
//! suppressed); `spam_complaint`. The empty ping SparkPost sends to test a webhook (`{}` or
//! `{"msys": {}}`), injections and track, unsubscribe and relay events are skipped. Bounce
//! classes that are not delivery failures (auto-replies, subscribe and unsubscribe requests,
//! challenge-responses) are skipped too.

use serde::Deserialize;

use super::{
    EventSink, NO_RECIPIENT, NO_TIMESTAMP, Num, Stamp, Str, base_event, decimal, sender_of,
    set_reply,
};
use crate::event::{Outcome, Source};

#[derive(Deserialize)]
pub(super) struct Record<'a> {
    #[serde(default, borrow)]
    msys: Option<Msys<'a>>,
}

#[derive(Deserialize)]
struct Msys<'a> {
    #[serde(default, borrow)]
    message_event: Option<MessageEvent<'a>>,
    #[serde(default, borrow)]
    gen_event: Option<MessageEvent<'a>>,
}

#[derive(Deserialize)]
struct MessageEvent<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(default)]
    bounce_class: Num,
    #[serde(default)]
    error_code: Num,
    #[serde(default, borrow)]
    raw_reason: Option<Str<'a>>,
    #[serde(default, borrow)]
    reason: Option<Str<'a>>,
    #[serde(default, borrow)]
    rcpt_to: Option<Str<'a>>,
    #[serde(default, borrow)]
    raw_rcpt_to: Option<Str<'a>>,
    #[serde(default, borrow)]
    msg_from: Option<Str<'a>>,
    #[serde(default, borrow)]
    friendly_from: Option<Str<'a>>,
    #[serde(default)]
    timestamp: Stamp,
    #[serde(default, borrow)]
    message_id: Option<Str<'a>>,
}

/// The outcome of a bounce of class `class`; `None` for classes that are not failures.
fn bounce_outcome(class: Option<u32>) -> Option<Outcome> {
    match class {
        // Auto-reply, subscribe, unsubscribe, challenge-response.
        Some(60 | 80 | 90 | 100) => None,
        Some(24) => Some(Outcome::Expired),
        // Admin failure (SparkPost's own policy), smart-send suppression.
        Some(25 | 26) => Some(Outcome::Suppressed),
        _ => Some(Outcome::Bounced),
    }
}

pub(super) fn emit<S: EventSink>(record: Record<'_>, sink: &mut S) -> Result<(), &'static str> {
    let Some(msys) = record.msys else {
        return Ok(());
    };
    let Some(message) = msys.message_event.or(msys.gen_event) else {
        return Ok(());
    };
    let kind = message.kind.as_deref().unwrap_or_default();
    let class = message.bounce_class.0;
    let outcome = match kind {
        "delivery" => Outcome::Delivered,
        "bounce" | "out_of_band" => match bounce_outcome(class) {
            Some(outcome) => outcome,
            None => return Ok(()),
        },
        "delay" => Outcome::Deferred,
        "policy_rejection" | "generation_failure" | "generation_rejection" => Outcome::Suppressed,
        "spam_complaint" => Outcome::Complained,
        _ => return Ok(()),
    };
    let recipient = message
        .rcpt_to
        .as_deref()
        .or(message.raw_rcpt_to.as_deref())
        .ok_or(NO_RECIPIENT)?;
    let time = message.timestamp.0.ok_or(NO_TIMESTAMP)?;
    let mut event = base_event(Source::Sparkpost, time, recipient.as_bytes(), outcome);
    event.sender = sender_of(
        message
            .msg_from
            .as_deref()
            .or(message.friendly_from.as_deref()),
    );
    event.queue_id = message.message_id.as_deref().unwrap_or_default().as_bytes();
    let mut digits = itoa::Buffer::new();
    if outcome != Outcome::Delivered {
        event.esp_type = Some(kind.as_bytes());
        event.esp_subtype = class.map(|c| decimal(c, &mut digits));
        event.reply_code = message
            .error_code
            .0
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (200..=599).contains(c));
        if let Some(reason) = message.raw_reason.as_deref().or(message.reason.as_deref()) {
            set_reply(&mut event, reason.as_bytes());
        }
    }
    sink.event(&event);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::event::Outcome;
    use crate::format::Format;
    use crate::format::esp::collect;

    #[test]
    fn batch_with_a_ping() {
        let data = br#"[{}, {"msys": {}},
{"msys":{"message_event":{"type":"bounce","bounce_class":10,"error_code":"550","raw_reason":"550 5.1.1 unknown","rcpt_to":"a@x.example","msg_from":"n@s.example","timestamp":"1764237600"}}},
{"msys":{"message_event":{"type":"bounce","bounce_class":"60","rcpt_to":"v@x.example"}}},
{"msys":{"track_event":{"type":"open","rcpt_to":"a@x.example"}}}]"#;
        let out = collect(Format::Sparkpost, data);
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        assert_eq!(out.events.len(), 1);
        let bounce = &out.events[0];
        assert_eq!(bounce.outcome, Outcome::Bounced);
        assert_eq!(bounce.esp_subtype.as_deref(), Some(&b"10"[..]));
        assert_eq!(bounce.reply_code, Some(550));
        assert_eq!(bounce.sender.as_deref(), Some(&b"n@s.example"[..]));
    }
}
