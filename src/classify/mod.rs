//! Classification: what happened to a failed or deferred attempt, whose fault it is and what
//! to do about it.
//!
//! Input is a [`ClassifyInput`] (reply code, enhanced code, the MTA's dsn, diagnostic text,
//! SMTP stage, remote host, recipient domain); output is a [`Classification`]. The
//! [`Classifier`] is built once and shared by all workers.
//!
//! This module currently holds the code-based first classification (enhanced code class and
//! reply code only) that the ingest pipeline needs; the text- and provider-aware rule engine
//! plugs in behind the same [`Classifier::classify`] seam.

pub mod provider;

use crate::event::{EnhancedCode, Outcome, Stage};

pub use provider::Provider;

/// What went wrong (or right). The dataset's `category` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    UserUnknown,
    DomainUnknown,
    DomainAcceptsNoMail,
    MailboxDisabled,
    MailboxMoved,
    MailboxFull,
    AuthFailure,
    Blocklisted,
    BadReputation,
    MissingPtr,
    TlsRequired,
    RateLimited,
    Greylisted,
    SenderRejected,
    RelayDenied,
    PolicyRejected,
    SpamContent,
    VirusContent,
    MessageTooLarge,
    MalformedMessage,
    Expired,
    NetworkError,
    RemoteSystemError,
    ProtocolError,
    Delivered,
    Unclassified,
}

impl Category {
    pub const ALL: [Category; 26] = [
        Category::UserUnknown,
        Category::DomainUnknown,
        Category::DomainAcceptsNoMail,
        Category::MailboxDisabled,
        Category::MailboxMoved,
        Category::MailboxFull,
        Category::AuthFailure,
        Category::Blocklisted,
        Category::BadReputation,
        Category::MissingPtr,
        Category::TlsRequired,
        Category::RateLimited,
        Category::Greylisted,
        Category::SenderRejected,
        Category::RelayDenied,
        Category::PolicyRejected,
        Category::SpamContent,
        Category::VirusContent,
        Category::MessageTooLarge,
        Category::MalformedMessage,
        Category::Expired,
        Category::NetworkError,
        Category::RemoteSystemError,
        Category::ProtocolError,
        Category::Delivered,
        Category::Unclassified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::UserUnknown => "user_unknown",
            Category::DomainUnknown => "domain_unknown",
            Category::DomainAcceptsNoMail => "domain_accepts_no_mail",
            Category::MailboxDisabled => "mailbox_disabled",
            Category::MailboxMoved => "mailbox_moved",
            Category::MailboxFull => "mailbox_full",
            Category::AuthFailure => "auth_failure",
            Category::Blocklisted => "blocklisted",
            Category::BadReputation => "bad_reputation",
            Category::MissingPtr => "missing_ptr",
            Category::TlsRequired => "tls_required",
            Category::RateLimited => "rate_limited",
            Category::Greylisted => "greylisted",
            Category::SenderRejected => "sender_rejected",
            Category::RelayDenied => "relay_denied",
            Category::PolicyRejected => "policy_rejected",
            Category::SpamContent => "spam_content",
            Category::VirusContent => "virus_content",
            Category::MessageTooLarge => "message_too_large",
            Category::MalformedMessage => "malformed_message",
            Category::Expired => "expired",
            Category::NetworkError => "network_error",
            Category::RemoteSystemError => "remote_system_error",
            Category::ProtocolError => "protocol_error",
            Category::Delivered => "delivered",
            Category::Unclassified => "unclassified",
        }
    }

    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permanence {
    Permanent,
    Transient,
    /// Delivered: nothing to retry.
    None,
}

impl Permanence {
    pub fn as_str(self) -> &'static str {
        match self {
            Permanence::Permanent => "permanent",
            Permanence::Transient => "transient",
            Permanence::None => "none",
        }
    }
}

/// Whose side must act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    Recipient,
    SenderInfrastructure,
    Content,
    RemoteSystem,
    Network,
    None,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Recipient => "recipient",
            Fault::SenderInfrastructure => "sender_infrastructure",
            Fault::Content => "content",
            Fault::RemoteSystem => "remote_system",
            Fault::Network => "network",
            Fault::None => "none",
        }
    }
}

/// What the user should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    None,
    RemoveAddress,
    Retry,
    ReduceRate,
    FixAuthentication,
    AddReverseDns,
    CheckReputation,
    ReviewContent,
    ReduceSize,
    FixAddressSyntax,
    EnableTls,
    Investigate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::RemoveAddress => "remove_address",
            Action::Retry => "retry",
            Action::ReduceRate => "reduce_rate",
            Action::FixAuthentication => "fix_authentication",
            Action::AddReverseDns => "add_reverse_dns",
            Action::CheckReputation => "check_reputation",
            Action::ReviewContent => "review_content",
            Action::ReduceSize => "reduce_size",
            Action::FixAddressSyntax => "fix_address_syntax",
            Action::EnableTls => "enable_tls",
            Action::Investigate => "investigate",
        }
    }
}

/// Everything the classifier looks at for one attempt.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassifyInput<'a> {
    pub outcome: Option<Outcome>,
    pub reply_code: Option<u16>,
    pub enhanced_code: Option<EnhancedCode>,
    pub dsn: Option<EnhancedCode>,
    pub text: &'a [u8],
    pub stage: Option<Stage>,
    pub remote_host: Option<&'a [u8]>,
    pub recipient_domain: Option<&'a [u8]>,
}

/// The classifier's verdict on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Classification {
    pub category: Category,
    pub permanence: Permanence,
    pub fault: Fault,
    pub action: Action,
    pub provider: Provider,
    /// The id of the rule that decided.
    pub rule_id: &'static str,
}

/// Classifies attempts. Cheap to share across threads.
#[derive(Debug, Default)]
pub struct Classifier {}

impl Classifier {
    pub fn new() -> Classifier {
        Classifier {}
    }

    /// Classifies one attempt. Deterministic: the same input always gives the same answer.
    pub fn classify(&self, input: &ClassifyInput<'_>) -> Classification {
        let provider = Provider::detect(input.remote_host, input.recipient_domain);
        let (category, rule_id) = baseline_category(input);
        let permanence = permanence_of(input, category);
        let (fault, action) = fault_and_action(category, permanence);
        Classification {
            category,
            permanence,
            fault,
            action,
            provider,
            rule_id,
        }
    }
}

/// The status-code-only classification: enhanced code class and subject, then the reply code.
/// It is the fallback of the rule engine and the baseline its accuracy is compared with.
pub fn baseline_category(input: &ClassifyInput<'_>) -> (Category, &'static str) {
    match input.outcome {
        Some(Outcome::Delivered) => return (Category::Delivered, "outcome.delivered"),
        Some(Outcome::Expired) => return (Category::Expired, "outcome.expired"),
        _ => {}
    }
    let code = input.enhanced_code.or(input.dsn);
    if let Some(code) = code {
        if code.class == 2 {
            return (Category::Delivered, "code.2xx");
        }
        let category = match (code.subject, code.detail) {
            (1, 1) | (1, 6) | (1, 10) => Some(Category::UserUnknown),
            (1, 2) => Some(Category::DomainUnknown),
            (1, 3) => Some(Category::MalformedMessage),
            (1, 7) | (1, 8) => Some(Category::SenderRejected),
            (2, 1) => Some(Category::MailboxDisabled),
            (2, 2) => Some(Category::MailboxFull),
            (2, 3) | (3, 4) => Some(Category::MessageTooLarge),
            (3, _) => Some(Category::RemoteSystemError),
            (4, 4) | (4, 1) | (4, 2) | (4, 7) if input.reply_code.is_none() => {
                Some(Category::NetworkError)
            }
            (4, 7) => Some(Category::Expired),
            (4, _) => Some(Category::NetworkError),
            (5, _) => Some(Category::ProtocolError),
            (6, _) => Some(Category::MalformedMessage),
            (7, 1) => Some(Category::PolicyRejected),
            (7, _) => Some(Category::PolicyRejected),
            (1, _) => Some(Category::UserUnknown),
            (2, _) => Some(Category::MailboxDisabled),
            _ => None,
        };
        if let Some(category) = category {
            return (category, "code.enhanced");
        }
    }
    match input.reply_code {
        Some(450 | 550) => (Category::UserUnknown, "code.reply"),
        Some(452 | 552) => (Category::MailboxFull, "code.reply"),
        Some(421) => (Category::RemoteSystemError, "code.reply"),
        Some(451) => (Category::RemoteSystemError, "code.reply"),
        Some(553) => (Category::SenderRejected, "code.reply"),
        Some(554) => (Category::PolicyRejected, "code.reply"),
        Some(500..=504) => (Category::ProtocolError, "code.reply"),
        None if input.text.is_empty() => (Category::Unclassified, "none"),
        None => (Category::NetworkError, "code.none"),
        _ => (Category::Unclassified, "none"),
    }
}

fn permanence_of(input: &ClassifyInput<'_>, category: Category) -> Permanence {
    if category == Category::Delivered {
        return Permanence::None;
    }
    match input.outcome {
        Some(Outcome::Bounced | Outcome::Expired) => return Permanence::Permanent,
        Some(Outcome::Deferred) => return Permanence::Transient,
        _ => {}
    }
    let class = input
        .reply_code
        .map(|c| (c / 100) as u8)
        .or(input.enhanced_code.map(|c| c.class))
        .or(input.dsn.map(|c| c.class));
    match class {
        Some(5) => Permanence::Permanent,
        _ => Permanence::Transient,
    }
}

/// The default fault and action for a category.
pub fn fault_and_action(category: Category, permanence: Permanence) -> (Fault, Action) {
    use Category as C;
    let transient = permanence == Permanence::Transient;
    match category {
        C::Delivered => (Fault::None, Action::None),
        C::UserUnknown | C::DomainUnknown | C::DomainAcceptsNoMail | C::MailboxDisabled => {
            (Fault::Recipient, Action::RemoveAddress)
        }
        C::MailboxMoved => (Fault::Recipient, Action::RemoveAddress),
        C::MailboxFull if transient => (Fault::Recipient, Action::Retry),
        C::MailboxFull => (Fault::Recipient, Action::RemoveAddress),
        C::AuthFailure => (Fault::SenderInfrastructure, Action::FixAuthentication),
        C::Blocklisted | C::BadReputation => (Fault::SenderInfrastructure, Action::CheckReputation),
        C::MissingPtr => (Fault::SenderInfrastructure, Action::AddReverseDns),
        C::TlsRequired => (Fault::SenderInfrastructure, Action::EnableTls),
        C::RateLimited => (Fault::SenderInfrastructure, Action::ReduceRate),
        C::Greylisted => (Fault::None, Action::Retry),
        C::SenderRejected => (Fault::SenderInfrastructure, Action::Investigate),
        C::RelayDenied => (Fault::SenderInfrastructure, Action::Investigate),
        C::PolicyRejected => (Fault::SenderInfrastructure, Action::Investigate),
        C::SpamContent => (Fault::Content, Action::ReviewContent),
        C::VirusContent => (Fault::Content, Action::ReviewContent),
        C::MessageTooLarge => (Fault::Content, Action::ReduceSize),
        C::MalformedMessage => (Fault::Content, Action::ReviewContent),
        C::Expired => (Fault::Recipient, Action::RemoveAddress),
        C::NetworkError => (Fault::Network, Action::Retry),
        C::RemoteSystemError => (Fault::RemoteSystem, Action::Retry),
        C::ProtocolError => (Fault::RemoteSystem, Action::Investigate),
        C::Unclassified => (Fault::None, Action::Investigate),
    }
}
