//! Property tests: the classifier never panics, and the cache never changes an answer.

use bouncestat::classify::{Classifier, ClassifyInput, normalize};
use bouncestat::event::{EnhancedCode, Outcome, Stage};
use proptest::prelude::*;

fn stage() -> impl Strategy<Value = Option<Stage>> {
    prop_oneof![
        Just(None),
        Just(Some(Stage::Greeting)),
        Just(Some(Stage::MailFrom)),
        Just(Some(Stage::RcptTo)),
        Just(Some(Stage::EndOfData)),
    ]
}

fn outcome() -> impl Strategy<Value = Option<Outcome>> {
    prop_oneof![
        Just(None),
        Just(Some(Outcome::Deferred)),
        Just(Some(Outcome::Bounced)),
        Just(Some(Outcome::Delivered)),
    ]
}

/// Replies assembled from pieces real replies are made of, so the rules actually fire.
fn reply_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just("550-5.7.1 ".to_owned()),
        Just("452 4.2.2 ".to_owned()),
        Just("user unknown ".to_owned()),
        Just("too many recipients ".to_owned()),
        Just("[192.0.2.1] ".to_owned()),
        Just("<a@b.example> ".to_owned()),
        Just("Пользователь не найден ".to_owned()),
        Just("spamhaus ".to_owned()),
        "[ -~]{0,12}",
    ];
    prop_oneof![
        proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

proptest! {
    #[test]
    fn never_panics_and_cache_is_transparent(
        text in reply_text(),
        reply_code in proptest::option::of(200u16..600),
        code in proptest::option::of((2u8..6, 0u16..10, 0u16..700)),
        stage in stage(),
        outcome in outcome(),
        google in any::<bool>(),
    ) {
        let classifier = Classifier::new();
        let input = ClassifyInput {
            outcome,
            reply_code,
            enhanced_code: code.map(|(c, s, d)| EnhancedCode::new(c, s, d)),
            dsn: None,
            text: &text,
            stage,
            remote_host: google.then_some(&b"gmail-smtp-in.l.google.com"[..]),
            recipient_domain: None,
        };
        let first = classifier.classify(&input);
        prop_assert_eq!(first, classifier.classify(&input));
        prop_assert_eq!(first, classifier.classify_uncached(&input));
        if first.action == bouncestat::classify::Action::RemoveAddress {
            prop_assert_eq!(first.fault, bouncestat::classify::Fault::Recipient);
            prop_assert!(first.category.is_about_recipient());
        }
    }

    #[test]
    fn normalising_is_idempotent(text in reply_text()) {
        let once = normalize::normalize(&text);
        prop_assert_eq!(normalize::normalize(&once), once);
    }
}

#[test]
fn shared_across_threads_gives_the_same_answers() {
    let classifier = Classifier::new();
    let texts = [
        "550 5.1.1 User unknown",
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints",
        "554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using zen.spamhaus.org",
    ];
    let expected: Vec<_> = texts
        .iter()
        .map(|t| {
            classifier.classify_uncached(&ClassifyInput {
                text: t.as_bytes(),
                ..Default::default()
            })
        })
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..500 {
                    for (t, want) in texts.iter().zip(&expected) {
                        let got = classifier.classify(&ClassifyInput {
                            text: t.as_bytes(),
                            ..Default::default()
                        });
                        assert_eq!(&got, want);
                    }
                }
            });
        }
    });
}
