//! From an ESP's own verdict (`esp_type`, `esp_subtype`) to one of our categories.
//!
//! Used when a record carries no reply text to classify, and as a guard when it does: when the
//! provider says the address is fine (a block, a content or reputation refusal) the reply text
//! cannot turn the failure into a bad address. The tables are ours, written from each provider's
//! published descriptions of its verdicts; unknown verdicts give `None` (the classifier's
//! answer stands, `unclassified` without text).

use crate::classify::Category;
use crate::event::Source;

/// What a provider's verdict means to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub category: Category,
    /// The provider says the address itself is not the problem (blocked, content, reputation,
    /// rate): a reply-text classification blaming the address is overridden.
    pub address_ok: bool,
}

const fn about(category: Category) -> Option<Verdict> {
    Some(Verdict {
        category,
        address_ok: false,
    })
}

const fn not_the_address(category: Category) -> Option<Verdict> {
    Some(Verdict {
        category,
        address_ok: true,
    })
}

/// The category a provider's verdict stands for, if it names one.
pub fn verdict(
    source: Source,
    esp_type: Option<&[u8]>,
    esp_subtype: Option<&[u8]>,
) -> Option<Verdict> {
    let kind = esp_type.unwrap_or_default();
    let sub = esp_subtype.unwrap_or_default();
    match source {
        Source::Ses => ses(kind, sub),
        Source::Sendgrid => sendgrid(kind, sub),
        Source::Mailgun => mailgun(kind, sub),
        Source::Postmark => postmark(kind),
        Source::Sparkpost => sparkpost(sub),
        Source::Postfix | Source::Exim => None,
    }
}

/// Whether a suppression's reason is that the recipient complained before: SendGrid's drop of a
/// `Spam Reporting Address`, Mailgun's `suppress-complaint`. The address belongs on a
/// suppression list as a complainer, as the complaint itself would have put it (a team that
/// moves to another ESP or to its own MTAs would otherwise mail it again).
pub fn complained_before(
    source: Source,
    esp_type: Option<&[u8]>,
    esp_subtype: Option<&[u8]>,
) -> bool {
    let sub = esp_subtype.unwrap_or_default();
    match source {
        Source::Sendgrid => esp_type == Some(b"dropped") && sub == b"Spam Reporting Address",
        Source::Mailgun => sub == b"suppress-complaint",
        _ => false,
    }
}

/// SES: `bounceType`/`bounceSubType` of bounces, `DeliveryDelay`/`delayType` of delays,
/// `Reject`/reason, `Complaint`/feedback type.
fn ses(kind: &[u8], sub: &[u8]) -> Option<Verdict> {
    use Category as C;
    match (kind, sub) {
        (b"Permanent", b"NoEmail") => about(C::UserUnknown),
        // SES's global suppression list holds addresses that recently hard-bounced.
        (b"Permanent", b"Suppressed") => about(C::UserUnknown),
        (b"Permanent" | b"Transient", b"MailboxFull") => about(C::MailboxFull),
        (b"Permanent" | b"Transient", b"MessageTooLarge") => about(C::MessageTooLarge),
        (b"Permanent" | b"Transient", b"ContentRejected") => not_the_address(C::SpamContent),
        (b"Permanent" | b"Transient", b"AttachmentRejected") => not_the_address(C::PolicyRejected),
        (b"DeliveryDelay", b"MailboxFull") => about(C::MailboxFull),
        (b"DeliveryDelay", b"SpamDetected") => not_the_address(C::SpamContent),
        (b"DeliveryDelay", b"RecipientServerError" | b"InternalFailure") => {
            not_the_address(C::RemoteSystemError)
        }
        (b"DeliveryDelay", b"IPFailure") => not_the_address(C::Blocklisted),
        (
            b"DeliveryDelay",
            b"TransientCommunicationFailure" | b"BYOIPHostNameLookupUnavailable",
        ) => not_the_address(C::NetworkError),
        (b"DeliveryDelay", b"SendingDeferral") => not_the_address(C::RateLimited),
        // SES rejects a message only when it finds a virus in it.
        (b"Reject", _) => not_the_address(C::VirusContent),
        (b"Rendering Failure", _) => not_the_address(C::MalformedMessage),
        (b"Complaint", _) => about(C::Delivered),
        _ => None,
    }
}

/// SendGrid: bounce `type` (`bounce` or `blocked`) with `bounce_classification`; `dropped`
/// with its reason.
fn sendgrid(kind: &[u8], sub: &[u8]) -> Option<Verdict> {
    use Category as C;
    let by_class = match sub {
        b"Invalid Address" => about(C::UserUnknown),
        b"Mailbox Unavailable" => about(C::MailboxDisabled),
        b"Technical" => not_the_address(C::RemoteSystemError),
        b"Content" => not_the_address(C::SpamContent),
        b"Reputation" => not_the_address(C::BadReputation),
        b"Frequency or Volume" => not_the_address(C::RateLimited),
        _ => None,
    };
    match kind {
        b"bounce" | b"blocked" | b"deferred" if by_class.is_some() => by_class,
        // A block is a refusal of the sender or the message, never a bad address.
        b"blocked" => not_the_address(C::PolicyRejected),
        b"dropped" => match sub {
            b"Bounced Address" | b"Invalid" => about(C::UserUnknown),
            _ if sub.starts_with(b"Spam Content") => not_the_address(C::SpamContent),
            _ => None,
        },
        b"spamreport" => about(C::Delivered),
        _ => None,
    }
}

/// Mailgun: `severity` with `reason` of failures.
fn mailgun(kind: &[u8], sub: &[u8]) -> Option<Verdict> {
    use Category as C;
    match (kind, sub) {
        (_, b"greylisted") => not_the_address(C::Greylisted),
        (_, b"espblock") => not_the_address(C::PolicyRejected),
        (_, b"old") => about(C::Expired),
        (_, b"suppress-bounce") => about(C::UserUnknown),
        (b"rejected", _) => not_the_address(C::PolicyRejected),
        (b"complained", _) => about(C::Delivered),
        _ => None,
    }
}

/// Postmark: bounce `Type`.
fn postmark(kind: &[u8]) -> Option<Verdict> {
    use Category as C;
    match kind {
        b"HardBounce" | b"BadEmailAddress" => about(C::UserUnknown),
        b"DnsError" => not_the_address(C::NetworkError),
        b"Blocked" => not_the_address(C::PolicyRejected),
        b"DMARCPolicy" => not_the_address(C::AuthFailure),
        b"TemplateRenderingFailed" => not_the_address(C::MalformedMessage),
        b"SpamComplaint" => about(C::Delivered),
        _ => None,
    }
}

/// SparkPost: the `bounce_class` number (the subtype) of bounces, delays and out-of-band
/// bounces, from SparkPost's published bounce classification.
fn sparkpost(bounce_class: &[u8]) -> Option<Verdict> {
    use Category as C;
    match bounce_class {
        b"10" | b"30" => about(C::UserUnknown),
        b"21" => not_the_address(C::NetworkError),
        b"22" => about(C::MailboxFull),
        b"23" => not_the_address(C::MessageTooLarge),
        b"24" => about(C::Expired),
        b"25" => not_the_address(C::PolicyRejected),
        b"50" => not_the_address(C::PolicyRejected),
        b"51" => not_the_address(C::Blocklisted),
        b"52" => not_the_address(C::SpamContent),
        b"53" => not_the_address(C::VirusContent),
        b"54" => not_the_address(C::RelayDenied),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        let category = |source, kind: &[u8], sub: &[u8]| {
            verdict(source, Some(kind), Some(sub)).map(|v| v.category)
        };
        assert_eq!(
            category(Source::Ses, b"Permanent", b"NoEmail"),
            Some(Category::UserUnknown)
        );
        assert_eq!(category(Source::Ses, b"Permanent", b"General"), None);
        assert_eq!(
            category(Source::Sendgrid, b"blocked", b""),
            Some(Category::PolicyRejected)
        );
        assert_eq!(
            category(Source::Sendgrid, b"blocked", b"Reputation"),
            Some(Category::BadReputation)
        );
        assert_eq!(
            category(Source::Sparkpost, b"bounce", b"10"),
            Some(Category::UserUnknown)
        );
        assert_eq!(
            category(Source::Mailgun, b"temporary", b"greylisted"),
            Some(Category::Greylisted)
        );
        assert!(
            verdict(Source::Sendgrid, Some(b"blocked"), None)
                .unwrap()
                .address_ok
        );
        assert_eq!(verdict(Source::Postfix, Some(b"x"), None), None);
    }

    #[test]
    fn suppressions_of_complainers() {
        let before =
            |source, kind: &[u8], sub: &[u8]| complained_before(source, Some(kind), Some(sub));
        assert!(before(
            Source::Sendgrid,
            b"dropped",
            b"Spam Reporting Address"
        ));
        assert!(before(Source::Mailgun, b"permanent", b"suppress-complaint"));
        // Other reasons, and a bounce whose text happens to read the same, are no complaint.
        assert!(!before(
            Source::Sendgrid,
            b"dropped",
            b"Unsubscribed Address"
        ));
        assert!(!before(Source::Sendgrid, b"dropped", b"Bounced Address"));
        assert!(!before(
            Source::Sendgrid,
            b"bounce",
            b"Spam Reporting Address"
        ));
        assert!(!before(Source::Mailgun, b"permanent", b"suppress-bounce"));
        assert!(!before(
            Source::Mailgun,
            b"permanent",
            b"suppress-unsubscribe"
        ));
        assert!(!before(Source::Ses, b"Permanent", b"Suppressed"));
        assert!(!complained_before(Source::Mailgun, None, None));
    }
}
