//! Unit tests of the rule engine's seams; the behaviour on realistic replies is pinned by the
//! labelled set (`tests/classify_eval.rs`).

use super::*;

fn input(text: &str) -> ClassifyInput<'_> {
    ClassifyInput {
        text: text.as_bytes(),
        ..ClassifyInput::default()
    }
}

#[test]
fn classifier_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Classifier>();
}

#[test]
fn builtin_rules_compile() {
    let classifier = Classifier::new();
    assert!(classifier.rule_ids().count() > 100);
}

#[test]
fn specific_text_beats_generic_code() {
    let c = Classifier::new();
    let got = c.classify(&input(
        "550 5.1.1 <x@example.org>: this sender has sent too many recipients this hour",
    ));
    assert_eq!(got.category, Category::RateLimited);
    assert_eq!(got.rule_id, "text.rate_limited");
    assert_eq!(got.permanence, Permanence::Permanent);
}

#[test]
fn provider_beats_text() {
    let c = Classifier::new();
    let text = "554 resimta-ch2-07v.sys.comcast.net comcast 198.51.100.12 Comcast block for spam. Please see http://postmaster.comcast.net/smtp-error-codes.php#BL000000";
    let plain = c.classify(&input(text));
    assert_eq!(plain.category, Category::SpamContent);
    let comcast = c.classify(&ClassifyInput {
        remote_host: Some(b"mx2.comcast.net"),
        ..input(text)
    });
    assert_eq!(comcast.category, Category::Blocklisted);
    assert_eq!(comcast.provider, Provider::Comcast);
    assert_eq!(comcast.rule_id, "comcast.blocklisted");
}

#[test]
fn weak_text_yields_to_specific_codes() {
    let c = Classifier::new();
    let got = c.classify(&input(
        "550 5.1.1 <gone@example.org>: Recipient address rejected: Access denied",
    ));
    assert_eq!(got.category, Category::UserUnknown);
    let got = c.classify(&input("550 Administrative prohibition: access denied"));
    assert_eq!(got.category, Category::PolicyRejected);
    assert_eq!(got.rule_id, "text.policy");
}

#[test]
fn stage_guard_protects_the_recipient() {
    let c = Classifier::new();
    let at = |stage| {
        c.classify(&ClassifyInput {
            stage: Some(stage),
            ..input("550 5.1.1 User unknown")
        })
    };
    assert_eq!(at(Stage::RcptTo).action, Action::RemoveAddress);
    let greeting = at(Stage::Greeting);
    assert_eq!(greeting.category, Category::PolicyRejected);
    assert_eq!(greeting.rule_id, RULE_BEFORE_MAIL);
    assert_ne!(greeting.action, Action::RemoveAddress);
    assert_eq!(at(Stage::MailFrom).category, Category::SenderRejected);
}

#[test]
fn only_permanent_recipient_faults_remove_addresses() {
    let c = Classifier::new();
    let deferred = c.classify(&ClassifyInput {
        outcome: Some(Outcome::Deferred),
        ..input("450 4.1.1 <a@b.example>: Recipient address rejected: unverified address")
    });
    assert_eq!(deferred.category, Category::UserUnknown);
    assert_eq!(deferred.action, Action::Retry);
    let blocked = c.classify(&input(
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
    ));
    assert_eq!(blocked.category, Category::Blocklisted);
    assert_eq!(blocked.fault, Fault::SenderInfrastructure);
}

#[test]
fn cache_is_transparent_and_bounded() {
    let c = Classifier::new();
    let texts = [
        "550-5.1.1 <a@x.org> does not exist. q1si123456.7 - gsmtp",
        "550-5.1.1 <b@y.org> does not exist. zz9si987654.3 - gsmtp",
        "452 4.2.2 The email account that you tried to reach is over quota",
    ];
    for t in texts {
        let i = input(t);
        assert_eq!(c.classify(&i), c.classify_uncached(&i));
        assert_eq!(c.classify(&i), c.classify(&i));
    }
    // The first two normalise to the same key.
    assert_eq!(c.cache.len(), 2);
    let small = Cache::new(16);
    for n in 0..1000u32 {
        small.insert(&n.to_le_bytes(), c.classify(&input("x")));
    }
    assert!(small.len() <= 16 + 16);
}

#[test]
fn codes_are_read_from_text_when_absent() {
    let c = Classifier::new();
    let got = c.classify(&input(
        "host mx.example.net[192.0.2.7] said: 552 5.2.2 Quota exceeded",
    ));
    assert_eq!(got.category, Category::MailboxFull);
    assert_eq!(reply_code_in_text(b"said: 451-4.3.0 busy"), Some(451));
    assert_eq!(reply_code_in_text(b"5500 nope"), None);
    assert_eq!(reply_code_in_text(b"smtp; 550 5.1.1 nope"), Some(550));
    assert_eq!(
        reply_code_in_text(
            b"H=mx [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<a@b.example>: 550 5.1.1 nope"
        ),
        Some(550)
    );
}

#[test]
fn user_rules_add_and_override() {
    let user = r#"
[[rule]]
id = "text.spam"
text = ['\bspam\b']
category = "policy_rejected"

[[rule]]
id = "acme.quota"
text = ['acme storage exhausted']
category = "mailbox_full"
advice = "ACME users clean their mailboxes monthly."
"#;
    let c = Classifier::from_rules_str("user.toml", user).unwrap();
    let got = c.classify(&input("554 5.7.1 message looks like spam"));
    assert_eq!(got.category, Category::PolicyRejected);
    assert_eq!(got.rule_id, "text.spam");
    assert!(c.rule_info("text.spam").unwrap().user);
    let got = c.classify(&input("552 ACME storage exhausted"));
    assert_eq!(got.rule_id, "acme.quota");
    assert_eq!(c.advice(&got), "ACME users clean their mailboxes monthly.");
    assert!(Classifier::from_rules_str("bad.toml", "[[rule]]\nid='x'\n").is_err());
}
