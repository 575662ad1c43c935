//! Amazon SES: event publishing records (`eventType`), the older notifications
//! (`notificationType`), and either wrapped in an SNS HTTP envelope whose `Message` is the
//! notification as a JSON *string*.
//!
//! One record names one or many recipients (`bouncedRecipients`, `delayedRecipients`,
//! `complainedRecipients`, `delivery.recipients`, or `mail.destination` for rejects); each
//! becomes one event. `Send`, `Open`, `Click`, `Subscription` and inbound records carry no
//! delivery outcome and are skipped.

use serde::Deserialize;

use super::{
    EventSink, MALFORMED_JSON, NO_TIMESTAMP, Stamp, Str, base_event, sender_of, set_reply,
    status_code,
};
use crate::event::{Event, Outcome, Source};

/// A record: a notification, or an SNS envelope around one.
#[derive(Deserialize)]
pub(super) struct Record<'a> {
    #[serde(default, borrow, rename = "eventType")]
    event_type: Option<Str<'a>>,
    #[serde(default, borrow, rename = "notificationType")]
    notification_type: Option<Str<'a>>,
    /// SNS envelope: `Notification`, `SubscriptionConfirmation`...
    #[serde(default, borrow, rename = "Type")]
    sns_type: Option<Str<'a>>,
    /// SNS envelope: the notification, as a JSON string.
    #[serde(default, borrow, rename = "Message")]
    message: Option<Str<'a>>,
    #[serde(default, borrow)]
    mail: Mail<'a>,
    #[serde(default, borrow)]
    bounce: Option<Bounce<'a>>,
    #[serde(default, borrow)]
    complaint: Option<Complaint<'a>>,
    #[serde(default, borrow)]
    delivery: Option<Delivery<'a>>,
    #[serde(default, borrow, rename = "deliveryDelay")]
    delivery_delay: Option<DeliveryDelay<'a>>,
    #[serde(default, borrow)]
    reject: Option<Reject<'a>>,
}

#[derive(Deserialize, Default)]
struct Mail<'a> {
    #[serde(default)]
    timestamp: Stamp,
    #[serde(default, borrow)]
    source: Option<Str<'a>>,
    #[serde(default, borrow, rename = "messageId")]
    message_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    destination: Vec<Str<'a>>,
}

#[derive(Deserialize)]
struct Recipient<'a> {
    #[serde(default, borrow, rename = "emailAddress")]
    email_address: Str<'a>,
    #[serde(default, borrow)]
    status: Option<Str<'a>>,
    #[serde(default, borrow, rename = "diagnosticCode")]
    diagnostic_code: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Bounce<'a> {
    #[serde(default, borrow, rename = "bounceType")]
    bounce_type: Option<Str<'a>>,
    #[serde(default, borrow, rename = "bounceSubType")]
    bounce_sub_type: Option<Str<'a>>,
    #[serde(default, borrow, rename = "bouncedRecipients")]
    recipients: Vec<Recipient<'a>>,
    #[serde(default)]
    timestamp: Stamp,
    #[serde(default, borrow, rename = "remoteMtaIp")]
    remote_mta_ip: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Complaint<'a> {
    #[serde(default, borrow, rename = "complainedRecipients")]
    recipients: Vec<Recipient<'a>>,
    #[serde(default)]
    timestamp: Stamp,
    #[serde(default, borrow, rename = "complaintFeedbackType")]
    feedback_type: Option<Str<'a>>,
    #[serde(default, borrow, rename = "complaintSubType")]
    sub_type: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Delivery<'a> {
    #[serde(default, borrow)]
    recipients: Vec<Str<'a>>,
    #[serde(default)]
    timestamp: Stamp,
    #[serde(default, borrow, rename = "smtpResponse")]
    smtp_response: Option<Str<'a>>,
    #[serde(default, borrow, rename = "remoteMtaIp")]
    remote_mta_ip: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct DeliveryDelay<'a> {
    #[serde(default, borrow, rename = "delayType")]
    delay_type: Option<Str<'a>>,
    #[serde(default, borrow, rename = "delayedRecipients")]
    recipients: Vec<Recipient<'a>>,
    #[serde(default)]
    timestamp: Stamp,
}

#[derive(Deserialize)]
struct Reject<'a> {
    #[serde(default, borrow)]
    reason: Option<Str<'a>>,
}

pub(super) fn emit<S: EventSink>(record: Record<'_>, sink: &mut S) -> Result<(), &'static str> {
    if let Some(message) = &record.message {
        if record
            .sns_type
            .as_deref()
            .is_some_and(|t| t != "Notification")
        {
            return Ok(());
        }
        // SNS also delivers plain-text messages (the topic's test message): not ours.
        if !message.trim_start().starts_with('{') {
            return Ok(());
        }
        let inner: Record<'_> = serde_json::from_str(message).map_err(|_| MALFORMED_JSON)?;
        return emit(inner, sink);
    }
    let kind = record
        .event_type
        .as_deref()
        .or(record.notification_type.as_deref())
        .unwrap_or_default();
    let mail = &record.mail;
    let sender = sender_of(mail.source.as_deref());
    let message_id = mail.message_id.as_deref().unwrap_or_default().as_bytes();
    let start = |recipient, time: Stamp, outcome| {
        start_event(
            recipient,
            time.0.or(mail.timestamp.0),
            outcome,
            sender,
            message_id,
        )
    };
    match kind {
        "Bounce" => {
            let Some(bounce) = &record.bounce else {
                return Ok(());
            };
            let sub = bounce.bounce_sub_type.as_deref();
            // Suppression-list bounces were never sent to the remote server.
            let outcome = match sub {
                Some("Suppressed" | "OnAccountSuppressionList") => Outcome::Suppressed,
                _ => Outcome::Bounced,
            };
            for recipient in &bounce.recipients {
                let mut event = start(&recipient.email_address, bounce.timestamp, outcome)?;
                event.esp_type = bounce.bounce_type.as_deref().map(str::as_bytes);
                event.esp_subtype = sub.map(str::as_bytes);
                event.dsn = status_code(recipient.status.as_deref());
                event.remote_ip = bounce.remote_mta_ip.as_deref().map(str::as_bytes);
                if let Some(diagnostic) = &recipient.diagnostic_code {
                    set_reply(&mut event, diagnostic.as_bytes());
                }
                sink.event(&event);
            }
        }
        "DeliveryDelay" => {
            let Some(delay) = &record.delivery_delay else {
                return Ok(());
            };
            for recipient in &delay.recipients {
                let mut event =
                    start(&recipient.email_address, delay.timestamp, Outcome::Deferred)?;
                event.esp_type = Some(b"DeliveryDelay");
                event.esp_subtype = delay.delay_type.as_deref().map(str::as_bytes);
                event.dsn = status_code(recipient.status.as_deref());
                if let Some(diagnostic) = &recipient.diagnostic_code {
                    set_reply(&mut event, diagnostic.as_bytes());
                }
                sink.event(&event);
            }
        }
        "Delivery" => {
            let Some(delivery) = &record.delivery else {
                return Ok(());
            };
            for recipient in &delivery.recipients {
                let mut event = start(recipient, delivery.timestamp, Outcome::Delivered)?;
                event.remote_ip = delivery.remote_mta_ip.as_deref().map(str::as_bytes);
                if let Some(response) = &delivery.smtp_response {
                    set_reply(&mut event, response.as_bytes());
                }
                sink.event(&event);
            }
        }
        "Complaint" => {
            let Some(complaint) = &record.complaint else {
                return Ok(());
            };
            let sub = complaint
                .feedback_type
                .as_deref()
                .or(complaint.sub_type.as_deref());
            for recipient in &complaint.recipients {
                let mut event = start(
                    &recipient.email_address,
                    complaint.timestamp,
                    Outcome::Complained,
                )?;
                event.esp_type = Some(b"Complaint");
                event.esp_subtype = sub.map(str::as_bytes);
                sink.event(&event);
            }
        }
        "Reject" | "Rendering Failure" => {
            let reason = match kind {
                "Reject" => record.reject.as_ref().and_then(|r| r.reason.as_deref()),
                _ => None,
            };
            for recipient in &mail.destination {
                let mut event = start(recipient, Stamp(None), Outcome::Suppressed)?;
                event.esp_type = Some(kind.as_bytes());
                event.esp_subtype = reason.map(str::as_bytes);
                sink.event(&event);
            }
        }
        _ => {}
    }
    Ok(())
}

/// An SES event for one recipient, with the record's sender and message id.
fn start_event<'r>(
    recipient: &'r str,
    time: Option<i64>,
    outcome: Outcome,
    sender: Option<&'r [u8]>,
    message_id: &'r [u8],
) -> Result<Event<'r>, &'static str> {
    let time = time.ok_or(NO_TIMESTAMP)?;
    let mut event = base_event(Source::Ses, time, recipient.as_bytes(), outcome);
    event.sender = sender;
    event.queue_id = message_id;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use crate::event::{EnhancedCode, Outcome};
    use crate::format::Format;
    use crate::format::esp::collect;

    #[test]
    fn multi_recipient_bounce_in_an_sns_envelope() {
        let inner = r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"a@x.example","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 no such user"},{"emailAddress":"B <b@y.example>"}],"timestamp":"2026-11-27T10:00:00.000Z"},"mail":{"timestamp":"2026-11-27T09:59:00.000Z","source":"news@sender.example","destination":["a@x.example","b@y.example"]}}"#;
        let envelope =
            serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": inner});
        let out = collect(Format::Ses, envelope.to_string().as_bytes());
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        assert_eq!(out.events.len(), 2);
        let a = &out.events[0];
        assert_eq!(a.outcome, Outcome::Bounced);
        assert_eq!(a.reply_code, Some(550));
        assert_eq!(a.dsn, Some(EnhancedCode::new(5, 1, 1)));
        assert_eq!(a.esp_type.as_deref(), Some(&b"Permanent"[..]));
        assert_eq!(a.sender.as_deref(), Some(&b"news@sender.example"[..]));
        assert_eq!(&*out.events[1].recipient_domain, b"y.example");
        assert!(out.events[1].text.is_empty());
    }

    #[test]
    fn skipped_and_suppressed() {
        let data = br#"{"eventType":"Send","mail":{"timestamp":"2026-11-27T09:59:00Z","destination":["a@x"]},"send":{}}
{"eventType":"Open","mail":{},"open":{}}
{"Type":"SubscriptionConfirmation","Message":"You have chosen to subscribe"}
{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"Suppressed","bouncedRecipients":[{"emailAddress":"s@x.example"}],"timestamp":"2026-11-27T10:00:00Z"},"mail":{}}
"#;
        let out = collect(Format::Ses, data);
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.events[0].outcome, Outcome::Suppressed);
    }
}
