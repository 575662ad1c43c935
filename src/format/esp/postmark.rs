//! Postmark: bounce, delivery and spam-complaint webhooks, and bounce API exports
//! (`{"TotalCount": n, "Bounces": [...]}`).
//!
//! A bounce record's `Type` (or its numeric `TypeCode`) says what it is, and many types are not
//! delivery failures at all: auto-responders, subscribe and unsubscribe requests, spam
//! notifications, challenge verifications and the like are skipped, never counted as bounces.
//! `SpamComplaint` is a complaint; `ManuallyDeactivated` and `TemplateRenderingFailed` mean
//! Postmark did not send (suppressed); `Transient` and `DnsError` are deferrals.

use serde::Deserialize;

use super::{
    EventSink, NO_RECIPIENT, NO_TIMESTAMP, Num, Stamp, Str, base_event, sender_of, set_reply,
};
use crate::event::{Outcome, Source};

#[derive(Deserialize)]
pub(super) struct Record<'a> {
    #[serde(default, borrow, rename = "Bounces")]
    bounces: Vec<Record<'a>>,
    #[serde(default, borrow, rename = "RecordType")]
    record_type: Option<Str<'a>>,
    #[serde(default, borrow, rename = "Type")]
    bounce_type: Option<Str<'a>>,
    #[serde(default, rename = "TypeCode")]
    type_code: Num,
    #[serde(default, borrow, rename = "Details")]
    details: Option<Str<'a>>,
    #[serde(default, borrow, rename = "Email")]
    email: Option<Str<'a>>,
    #[serde(default, borrow, rename = "Recipient")]
    recipient: Option<Str<'a>>,
    #[serde(default, borrow, rename = "From")]
    from: Option<Str<'a>>,
    #[serde(default, rename = "BouncedAt")]
    bounced_at: Stamp,
    #[serde(default, rename = "DeliveredAt")]
    delivered_at: Stamp,
    #[serde(default, borrow, rename = "MessageID")]
    message_id: Option<Str<'a>>,
}

/// Postmark's bounce type names by `TypeCode`.
fn type_name(code: u32) -> Option<&'static str> {
    Some(match code {
        1 => "HardBounce",
        2 => "Transient",
        16 => "Unsubscribe",
        32 => "Subscribe",
        64 => "AutoResponder",
        128 => "AddressChange",
        256 => "DnsError",
        512 => "SpamNotification",
        1024 => "OpenRelayTest",
        2048 => "Unknown",
        4096 => "SoftBounce",
        8192 => "VirusNotification",
        16384 => "ChallengeVerification",
        100000 => "BadEmailAddress",
        100001 => "SpamComplaint",
        100002 => "ManuallyDeactivated",
        100003 => "Unconfirmed",
        100006 => "Blocked",
        100007 => "SMTPApiError",
        100008 => "InboundError",
        100009 => "DMARCPolicy",
        100010 => "TemplateRenderingFailed",
        _ => return None,
    })
}

/// The outcome of a bounce type; `None` for types that are not about a delivery.
fn bounce_outcome(kind: &str) -> Option<Outcome> {
    Some(match kind {
        "HardBounce" | "SoftBounce" | "Unknown" | "BadEmailAddress" | "Blocked" | "DMARCPolicy" => {
            Outcome::Bounced
        }
        "Transient" | "DnsError" => Outcome::Deferred,
        "SpamComplaint" => Outcome::Complained,
        "ManuallyDeactivated" | "TemplateRenderingFailed" => Outcome::Suppressed,
        _ => return None,
    })
}

pub(super) fn emit<S: EventSink>(record: Record<'_>, sink: &mut S) -> Result<(), &'static str> {
    let mut result = Ok(());
    for bounce in &record.bounces {
        let one = emit_one(bounce, sink);
        if result.is_ok() {
            result = one;
        }
    }
    result.and_then(|()| emit_one(&record, sink))
}

fn emit_one<S: EventSink>(record: &Record<'_>, sink: &mut S) -> Result<(), &'static str> {
    let kind = record
        .bounce_type
        .as_deref()
        .or_else(|| record.type_code.0.and_then(type_name));
    let (outcome, time, recipient) = match record.record_type.as_deref() {
        Some("Delivery") => (
            Outcome::Delivered,
            record.delivered_at,
            record.recipient.as_deref(),
        ),
        Some("SpamComplaint") => (
            Outcome::Complained,
            record.bounced_at,
            record.email.as_deref(),
        ),
        Some("Bounce") | None => {
            let Some(outcome) = kind.and_then(bounce_outcome) else {
                return Ok(());
            };
            (outcome, record.bounced_at, record.email.as_deref())
        }
        Some(_) => return Ok(()),
    };
    let recipient = recipient.ok_or(NO_RECIPIENT)?;
    let time = time.0.ok_or(NO_TIMESTAMP)?;
    let mut event = base_event(Source::Postmark, time, recipient.as_bytes(), outcome);
    event.sender = sender_of(record.from.as_deref());
    event.queue_id = record.message_id.as_deref().unwrap_or_default().as_bytes();
    if outcome != Outcome::Delivered {
        event.esp_type = Some(match outcome {
            Outcome::Complained => b"SpamComplaint",
            _ => kind.unwrap_or_default().as_bytes(),
        });
        // The details of bounces are the remote reply (`smtp;550 5.1.1 ...`).
        if matches!(outcome, Outcome::Bounced | Outcome::Deferred)
            && let Some(details) = &record.details
        {
            set_reply(&mut event, details.as_bytes());
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
    fn non_bounce_types_are_not_bounces() {
        let data = br#"{"TotalCount":4,"Bounces":[
{"Type":"AutoResponder","TypeCode":64,"Email":"a@x.example","BouncedAt":"2026-11-27T10:00:00Z"},
{"TypeCode":16,"Email":"b@x.example","BouncedAt":"2026-11-27T10:00:00Z"},
{"Type":"HardBounce","TypeCode":1,"Email":"c@x.example","From":"n@s.example","Details":"smtp;550 5.1.1 no such user","BouncedAt":"2026-11-27T10:00:00Z"},
{"TypeCode":2,"Email":"d@x.example","BouncedAt":"2026-11-27T10:00:00Z"}]}"#;
        let out = collect(Format::Postmark, data);
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        let outcomes: Vec<_> = out.events.iter().map(|e| e.outcome).collect();
        assert_eq!(outcomes, [Outcome::Bounced, Outcome::Deferred]);
        assert_eq!(out.events[0].reply_code, Some(550));
        assert_eq!(out.events[1].esp_type.as_deref(), Some(&b"Transient"[..]));
    }
}
