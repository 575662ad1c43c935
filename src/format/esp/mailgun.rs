//! Mailgun events: webhook bodies (`{"signature": ..., "event-data": {...}}`), Events API pages
//! (`{"items": [...], "paging": ...}`) and bare event objects.
//!
//! `delivered`; `failed` with `severity` `permanent` (bounced) or `temporary` (a deferral: Mailgun
//! retries), whose `reason` `suppress-*` means Mailgun never sent (suppressed) and `old` that it
//! gave up retrying (expired); `rejected` (Mailgun refused the message: suppressed);
//! `complained`. Engagement and storage events are skipped.

use serde::Deserialize;

use super::{
    EventSink, NO_RECIPIENT, NO_TIMESTAMP, Num, Stamp, Str, base_event, sender_of, set_reply,
    status_code,
};
use crate::event::{Outcome, Source};

/// An event, a webhook body around one, or a page of them: whichever fields are present.
#[derive(Deserialize)]
pub(super) struct Record<'a> {
    #[serde(default, borrow, rename = "event-data")]
    event_data: Option<Box<Record<'a>>>,
    #[serde(default, borrow)]
    items: Vec<Record<'a>>,
    #[serde(default, borrow)]
    event: Option<Str<'a>>,
    #[serde(default, borrow)]
    severity: Option<Str<'a>>,
    #[serde(default, borrow)]
    reason: Option<Str<'a>>,
    #[serde(default, borrow)]
    recipient: Option<Str<'a>>,
    #[serde(default)]
    timestamp: Stamp,
    #[serde(default, borrow)]
    envelope: Option<Envelope<'a>>,
    #[serde(default, borrow)]
    message: Option<Message<'a>>,
    #[serde(default, borrow, rename = "delivery-status")]
    delivery_status: Option<DeliveryStatus<'a>>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    sender: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default, borrow)]
    headers: Option<Headers<'a>>,
}

#[derive(Deserialize)]
struct Headers<'a> {
    #[serde(default, borrow)]
    from: Option<Str<'a>>,
    #[serde(default, borrow)]
    to: Option<Str<'a>>,
    #[serde(default, borrow, rename = "message-id")]
    message_id: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct DeliveryStatus<'a> {
    #[serde(default)]
    code: Num,
    #[serde(default, borrow, rename = "enhanced-code")]
    enhanced_code: Option<Str<'a>>,
    #[serde(default, borrow)]
    message: Option<Str<'a>>,
    #[serde(default, borrow)]
    description: Option<Str<'a>>,
    #[serde(default, borrow, rename = "mx-host")]
    mx_host: Option<Str<'a>>,
}

pub(super) fn emit<S: EventSink>(record: Record<'_>, sink: &mut S) -> Result<(), &'static str> {
    if let Some(inner) = record.event_data {
        return emit(*inner, sink);
    }
    let mut first_error = Ok(());
    for item in &record.items {
        let result = emit_one(item, sink);
        if first_error.is_ok() {
            first_error = result;
        }
    }
    first_error.and_then(|()| emit_one(&record, sink))
}

fn emit_one<S: EventSink>(record: &Record<'_>, sink: &mut S) -> Result<(), &'static str> {
    let Some(kind) = record.event.as_deref() else {
        return Ok(());
    };
    let severity = record.severity.as_deref();
    let reason = record.reason.as_deref();
    let outcome = match kind {
        "delivered" => Outcome::Delivered,
        "failed" => match (severity, reason) {
            (_, Some(r)) if r.starts_with("suppress-") => Outcome::Suppressed,
            (Some("temporary"), _) => Outcome::Deferred,
            (_, Some("old")) => Outcome::Expired,
            _ => Outcome::Bounced,
        },
        "rejected" => Outcome::Suppressed,
        "complained" => Outcome::Complained,
        _ => return Ok(()),
    };
    let headers = record.message.as_ref().and_then(|m| m.headers.as_ref());
    let recipient = record
        .recipient
        .as_deref()
        .or(headers.and_then(|h| h.to.as_deref()))
        .ok_or(NO_RECIPIENT)?;
    let time = record.timestamp.0.ok_or(NO_TIMESTAMP)?;
    let mut event = base_event(Source::Mailgun, time, recipient.as_bytes(), outcome);
    event.sender = sender_of(
        record
            .envelope
            .as_ref()
            .and_then(|e| e.sender.as_deref())
            .or(headers.and_then(|h| h.from.as_deref())),
    );
    event.queue_id = headers
        .and_then(|h| h.message_id.as_deref())
        .unwrap_or_default()
        .as_bytes();
    match kind {
        "failed" => {
            event.esp_type = severity.map(str::as_bytes);
            event.esp_subtype = reason.map(str::as_bytes);
        }
        "rejected" | "complained" => event.esp_type = Some(kind.as_bytes()),
        _ => {}
    }
    if let Some(status) = &record.delivery_status {
        event.remote_host = status.mx_host.as_deref().map(str::as_bytes);
        // 498/499 and 6xx are Mailgun's own codes (no MX, gave up), not remote replies.
        event.reply_code = status
            .code
            .0
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (200..=599).contains(c) && !matches!(c, 498 | 499));
        event.enhanced_code = status_code(status.enhanced_code.as_deref());
        let text = [&status.message, &status.description]
            .into_iter()
            .flatten()
            .map(|t| t.as_ref())
            .find(|t| !t.trim().is_empty());
        if let Some(text) = text {
            set_reply(&mut event, text.as_bytes());
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
    fn temporary_is_a_deferral_and_pages_are_read() {
        let data = br#"{"items":[{"event":"failed","severity":"temporary","reason":"generic","recipient":"a@x.example","timestamp":1764237600.5,"delivery-status":{"code":421,"message":"4.7.0 Try again later","mx-host":"mx.x.example"}},{"event":"opened","recipient":"a@x.example","timestamp":1764237600}],"paging":{}}
{"signature":{},"event-data":{"event":"failed","severity":"permanent","reason":"suppress-bounce","recipient":"b@x.example","timestamp":1764237600,"envelope":{"sender":"n@s.example"}}}
"#;
        let out = collect(Format::Mailgun, data);
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        assert_eq!(out.events.len(), 2);
        let deferred = &out.events[0];
        assert_eq!(deferred.outcome, Outcome::Deferred);
        assert_eq!(deferred.reply_code, Some(421));
        assert_eq!(deferred.time_us, 1_764_237_600_500_000);
        assert_eq!(deferred.remote_host.as_deref(), Some(&b"mx.x.example"[..]));
        assert_eq!(out.events[1].outcome, Outcome::Suppressed);
        assert_eq!(out.events[1].sender.as_deref(), Some(&b"n@s.example"[..]));
    }
}
