//! SendGrid Event Webhook: a JSON array of events per POST, or one event per line.
//!
//! `delivered`, `deferred` (with the remote `response`), `bounce` whose `type` is `bounce` (the
//! address) or `blocked` (a refusal of the sender or the message; `status` may be missing),
//! `dropped` (SendGrid did not send: suppressed) and `spamreport` (complained). `processed`
//! and engagement events (`open`, `click`, `unsubscribe`, `group_*`) are skipped. The events do
//! not name the sender.

use serde::Deserialize;

use super::{
    EventSink, NO_RECIPIENT, NO_TIMESTAMP, Stamp, Str, base_event, set_reply, status_code,
};
use crate::event::{Outcome, Source};

#[derive(Deserialize)]
pub(super) struct Record<'a> {
    #[serde(default, borrow)]
    event: Option<Str<'a>>,
    #[serde(default, borrow)]
    email: Option<Str<'a>>,
    #[serde(default)]
    timestamp: Stamp,
    #[serde(default, borrow)]
    reason: Option<Str<'a>>,
    #[serde(default, borrow)]
    response: Option<Str<'a>>,
    #[serde(default, borrow)]
    status: Option<Str<'a>>,
    #[serde(default, borrow, rename = "type")]
    bounce_type: Option<Str<'a>>,
    #[serde(default, borrow)]
    bounce_classification: Option<Str<'a>>,
    #[serde(default, borrow, rename = "smtp-id")]
    smtp_id: Option<Str<'a>>,
}

pub(super) fn emit<S: EventSink>(record: Record<'_>, sink: &mut S) -> Result<(), &'static str> {
    let kind = record.event.as_deref().unwrap_or_default();
    let outcome = match kind {
        "delivered" => Outcome::Delivered,
        "deferred" => Outcome::Deferred,
        "bounce" => Outcome::Bounced,
        "dropped" => Outcome::Suppressed,
        "spamreport" => Outcome::Complained,
        _ => return Ok(()),
    };
    let recipient = record.email.as_deref().ok_or(NO_RECIPIENT)?;
    let time = record.timestamp.0.ok_or(NO_TIMESTAMP)?;
    let mut event = base_event(Source::Sendgrid, time, recipient.as_bytes(), outcome);
    event.queue_id = record.smtp_id.as_deref().unwrap_or_default().as_bytes();
    event.dsn = status_code(record.status.as_deref());
    match outcome {
        Outcome::Bounced => {
            event.esp_type = Some(record.bounce_type.as_deref().unwrap_or("bounce").as_bytes());
            event.esp_subtype = record.bounce_classification.as_deref().map(str::as_bytes);
        }
        Outcome::Deferred | Outcome::Complained => event.esp_type = Some(kind.as_bytes()),
        Outcome::Suppressed => {
            // A dropped event's reason is SendGrid's own ("Bounced Address"), not a reply.
            event.esp_type = Some(kind.as_bytes());
            event.esp_subtype = record.reason.as_deref().map(str::as_bytes);
        }
        _ => {}
    }
    if outcome != Outcome::Suppressed {
        let reply = record.reason.as_deref().or(record.response.as_deref());
        if let Some(reply) = reply {
            set_reply(&mut event, reply.as_bytes());
        }
    }
    sink.event(&event);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::event::Outcome;
    use crate::format::Format;
    use crate::format::esp::{NO_TIMESTAMP, collect};

    #[test]
    fn blocked_without_status_and_dropped() {
        let data = br#"[{"email":"a@x.example","timestamp":1764237600,"event":"bounce","type":"blocked","reason":"550 5.7.1 Message rejected due to reputation"},
{"email":"b@x.example","timestamp":1764237600,"event":"dropped","reason":"Bounced Address","status":"5.0.0"},
{"email":"c@x.example","timestamp":1764237600,"event":"open"},
{"email":"d@x.example","event":"delivered"}]"#;
        let out = collect(Format::Sendgrid, data);
        assert_eq!(out.events.len(), 2);
        assert_eq!(out.events[0].outcome, Outcome::Bounced);
        assert_eq!(out.events[0].esp_type.as_deref(), Some(&b"blocked"[..]));
        assert_eq!(out.events[0].dsn, None);
        assert_eq!(out.events[0].reply_code, Some(550));
        assert_eq!(out.events[1].outcome, Outcome::Suppressed);
        assert!(out.events[1].text.is_empty());
        assert_eq!(out.rejects.len(), 1);
        assert_eq!((out.rejects[0].0, out.rejects[0].1), (NO_TIMESTAMP, 4));
    }
}
