//! Regression tests named after issue 3: the published meanings it lists, one assertion each.
//! The labelled set covers the same ground with more variants; these pin the exact examples.

use bouncestat::classify::{Action, Category, Classifier, ClassifyInput, Fault, Provider};
use bouncestat::event::Stage;

const GMAIL: &[u8] = b"gmail-smtp-in.l.google.com";
const EXO: &[u8] = b"contoso-com.mail.protection.outlook.com";
const YAHOO: &[u8] = b"mta5.am0.yahoodns.net";

fn classify(host: &[u8], text: &str) -> (Category, &'static str) {
    let c = Classifier::new().classify(&ClassifyInput {
        text: text.as_bytes(),
        remote_host: Some(host),
        ..Default::default()
    });
    (c.category, c.rule_id)
}

#[test]
fn issue_3_gmail_meanings() {
    use Category as C;
    let cases: &[(&str, Category)] = &[
        (
            "421-4.7.28 [192.0.2.1 15] Our system has detected an unusual rate of unsolicited mail originating from your IP address.",
            C::RateLimited,
        ),
        (
            "421-4.7.0 [192.0.2.1 15] Our system has detected an unusual rate of unsolicited mail originating from your IP address.",
            C::RateLimited,
        ),
        (
            "550-5.7.26 This mail has been blocked because the sender is unauthenticated.",
            C::AuthFailure,
        ),
        ("550-5.7.27 SPF did not pass", C::AuthFailure),
        ("421-4.7.30 DKIM did not pass", C::AuthFailure),
        ("421-4.7.32 The From: header isn't aligned", C::AuthFailure),
        (
            "550-5.7.25 The IP address sending this message does not have a PTR record setup",
            C::MissingPtr,
        ),
        (
            "421-4.7.29 This message wasn't sent over a TLS connection",
            C::TlsRequired,
        ),
        (
            "550-5.7.29 This message wasn't sent over a TLS connection",
            C::TlsRequired,
        ),
        (
            "450-4.2.1 The user you are trying to contact is receiving mail too quickly.",
            C::RateLimited,
        ),
        (
            "452-4.2.2 The recipient's inbox is out of storage space.",
            C::MailboxFull,
        ),
        (
            "552-5.2.2 The recipient's inbox is out of storage space and inactive.",
            C::MailboxFull,
        ),
        (
            "550-5.1.1 The email account that you tried to reach does not exist.",
            C::UserUnknown,
        ),
        (
            "550-5.2.1 The email account that you tried to reach is disabled.",
            C::MailboxDisabled,
        ),
        (
            "550-5.7.1 This message is likely suspicious due to the very low reputation of the sending domain.",
            C::BadReputation,
        ),
        (
            "550-5.7.1 Our system has detected that this message is likely unsolicited mail.",
            C::SpamContent,
        ),
    ];
    for &(text, want) in cases {
        let (got, rule) = classify(GMAIL, text);
        assert_eq!(got, want, "{text} (rule {rule})");
        assert!(rule.starts_with("google."), "{text}: decided by {rule}");
    }
}

#[test]
fn issue_3_microsoft_meanings() {
    use Category as C;
    let cases: &[(&str, Category)] = &[
        (
            "550 5.7.606 Access denied, banned sending IP [192.0.2.1].",
            C::Blocklisted,
        ),
        (
            "550 5.7.649 Access denied, banned sending IP [192.0.2.1].",
            C::Blocklisted,
        ),
        (
            "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77719)",
            C::BadReputation,
        ),
        (
            "451 4.7.699 Access denied, please try again later.",
            C::BadReputation,
        ),
        (
            "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.",
            C::RateLimited,
        ),
        (
            "550 5.7.509 Access denied, sending domain [EXAMPLE.COM] does not pass DMARC verification",
            C::AuthFailure,
        ),
        (
            "550 5.7.23 The message was rejected because of Sender Policy Framework violation",
            C::AuthFailure,
        ),
        (
            "550 5.7.25 Access denied, the sending IPv6 address [2001:db8::1] must have a reverse DNS record.",
            C::MissingPtr,
        ),
        (
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
            C::UserUnknown,
        ),
        (
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            C::UserUnknown,
        ),
        (
            "550 5.7.321 starttls-not-supported: Destination mail server must support TLS to receive mail.",
            C::TlsRequired,
        ),
        (
            "550 5.7.324 dnssec-invalid: Destination domain returned invalid DNSSEC records",
            C::TlsRequired,
        ),
    ];
    for &(text, want) in cases {
        let (got, rule) = classify(EXO, text);
        assert_eq!(got, want, "{text} (rule {rule})");
    }
}

#[test]
fn issue_3_yahoo_meanings() {
    let (got, _) = classify(
        YAHOO,
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1",
    );
    assert_eq!(got, Category::RateLimited);
    let (got, _) = classify(
        YAHOO,
        "554 delivery error: dd Sorry your message to x@yahoo.com cannot be delivered. This mailbox is disabled (554.30).",
    );
    assert_eq!(got, Category::MailboxDisabled);
}

#[test]
fn issue_3_specific_text_beats_generic_code() {
    let (got, rule) = classify(
        b"mx.example.org",
        "550 5.1.1 <a@example.org>: this sender has sent too many recipients this hour",
    );
    assert_eq!((got, rule), (Category::RateLimited, "text.rate_limited"));
}

#[test]
fn issue_3_greeting_refusal_is_about_the_sending_host() {
    let c = Classifier::new().classify(&ClassifyInput {
        text: b"554 5.1.1 mx.example.org no mail for you",
        stage: Some(Stage::Greeting),
        ..Default::default()
    });
    assert_eq!(c.fault, Fault::SenderInfrastructure);
    assert_ne!(c.action, Action::RemoveAddress);
}

#[test]
fn issue_3_provider_from_recipient_domain() {
    let c = Classifier::new().classify(&ClassifyInput {
        text: b"550 5.5.0 Requested action not taken: mailbox unavailable",
        recipient_domain: Some(b"hotmail.co.uk"),
        ..Default::default()
    });
    assert_eq!(c.provider, Provider::Microsoft);
    assert_eq!(c.category, Category::UserUnknown);
}
