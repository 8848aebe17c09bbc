//! What a decoder accepts: node-ipc 14's parser profiles and their limits.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::error::CodecError;

/// Default frame limit of the Fast profile: 16 MiB. Bounded, unlike node-ipc's
/// Fast parser, so that no default decoder can be made to buffer without end.
pub const FAST_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;
/// node-ipc 14's `maxMessageSize` for Guarded and Assured: 1 MiB.
pub const GUARDED_MAX_MESSAGE_SIZE: usize = 1024 * 1024;
/// node-ipc 14's `maxEventNameLength`: 256 (UTF-16 code units).
pub const DEFAULT_MAX_EVENT_NAME_LENGTH: usize = 256;
/// node-ipc 14's `messageTimeout`: 30 s for an incomplete frame.
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Event types node-ipc keeps for local lifecycle events; Guarded and Assured
/// reject them on the wire unless allowed.
pub const RESERVED_EVENT_TYPES: [&str; 8] =
    ["start", "connect", "disconnect", "destroy", "close", "socket.disconnected", "error", "data"];

/// JavaScript's `Object.getOwnPropertyNames(Object.prototype)`: names that can
/// reach a JavaScript dispatcher's prototype, rejected by Guarded and Assured.
pub const OBJECT_PROTOTYPE_NAMES: [&str; 12] = [
    "constructor",
    "__defineGetter__",
    "__defineSetter__",
    "hasOwnProperty",
    "__lookupGetter__",
    "__lookupSetter__",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toString",
    "valueOf",
    "__proto__",
    "toLocaleString",
];

/// node-ipc 14's parser profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Profile {
    /// Any frame that is a JSON object with a string `type`; only the frame size
    /// is limited ([`FAST_MAX_MESSAGE_SIZE`] by default). node-ipc's default.
    #[default]
    Fast,
    /// Fast plus: 1 MiB frames, event types non-empty and at most 256 characters,
    /// lifecycle and `Object.prototype` names rejected, a 30 s deadline for an
    /// incomplete frame.
    Guarded,
    /// Guarded plus a required allow-list of event types.
    Assured,
}

impl Profile {
    /// node-ipc's name for the profile: `fast`, `guarded` or `assured`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Fast => "fast",
            Profile::Guarded => "guarded",
            Profile::Assured => "assured",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = CodecError;

    fn from_str(s: &str) -> Result<Profile, CodecError> {
        match s {
            "fast" => Ok(Profile::Fast),
            "guarded" => Ok(Profile::Guarded),
            "assured" => Ok(Profile::Assured),
            _ => Err(CodecError::Config("profile must be fast, guarded or assured")),
        }
    }
}

/// A profile with its limits and event-type rules, shared by every codec that
/// reads events ([`JsonCodec`](crate::JsonCodec), [`MsgPackCodec`](crate::MsgPackCodec)).
///
/// ```
/// use ipc_codec::{Profile, Rules};
///
/// let rules = Rules::builder(Profile::Assured)
///     .allowed_events(["app.message", "app.ping"])
///     .max_message_size(64 * 1024)
///     .build();
/// assert!(rules.check_event_type("app.ping").is_ok());
/// assert!(rules.check_event_type("connect").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Rules {
    profile: Profile,
    max_message_size: usize,
    max_event_name_length: usize,
    message_timeout: Option<Duration>,
    allow_reserved_events: bool,
    allow_prototype_names: bool,
    allowed_events: Option<Arc<HashSet<Box<str>>>>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules::new(Profile::Fast)
    }
}

impl Rules {
    /// The profile's rules with node-ipc 14's defaults.
    pub fn new(profile: Profile) -> Rules {
        let guarded = profile != Profile::Fast;
        Rules {
            profile,
            max_message_size: if guarded { GUARDED_MAX_MESSAGE_SIZE } else { FAST_MAX_MESSAGE_SIZE },
            max_event_name_length: DEFAULT_MAX_EVENT_NAME_LENGTH,
            message_timeout: guarded.then_some(DEFAULT_MESSAGE_TIMEOUT),
            allow_reserved_events: false,
            allow_prototype_names: false,
            allowed_events: None,
        }
    }

    /// Fast rules without a frame limit.
    ///
    /// # Security
    ///
    /// A peer can make a decoder with these rules buffer without end by never
    /// sending a delimiter. Use only with peers you trust with your memory.
    pub fn unbounded() -> Rules {
        Rules { max_message_size: usize::MAX, ..Rules::new(Profile::Fast) }
    }

    /// Starts from `profile`'s rules to change some of them.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ipc_codec::{Profile, Rules};
    ///
    /// let rules = Rules::builder(Profile::Guarded).message_timeout(Some(Duration::from_secs(5))).build();
    /// assert_eq!(rules.message_timeout(), Some(Duration::from_secs(5)));
    /// ```
    pub fn builder(profile: Profile) -> RulesBuilder {
        RulesBuilder { rules: Rules::new(profile) }
    }

    /// For the codec builders' `max_message_size`.
    pub(crate) fn set_max_message_size(&mut self, bytes: usize) {
        self.max_message_size = bytes;
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The maximum frame size in bytes (`usize::MAX` when unbounded).
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// The deadline for an incomplete frame, if any. Codecs track when the
    /// current incomplete frame began and report when it must be finished by
    /// ([`PartialFrameDeadline`](crate::PartialFrameDeadline)); transports
    /// enforce it.
    pub fn message_timeout(&self) -> Option<Duration> {
        self.message_timeout
    }

    /// Checks the rules are usable: limits of at least 1, and a non-empty
    /// allow-list for Assured.
    ///
    /// # Errors
    ///
    /// [`CodecError::Config`] naming the problem.
    pub fn validate(&self) -> Result<(), CodecError> {
        if self.max_message_size == 0 {
            return Err(CodecError::Config("max message size must be at least 1"));
        }
        if self.max_event_name_length == 0 {
            return Err(CodecError::Config("max event name length must be at least 1"));
        }
        if self.message_timeout == Some(Duration::ZERO) {
            return Err(CodecError::Config("message timeout must be positive (or None)"));
        }
        if self.profile == Profile::Assured && self.allowed_events.as_ref().is_none_or(|a| a.is_empty()) {
            return Err(CodecError::Config("the assured profile needs a non-empty allow-list of events"));
        }
        Ok(())
    }

    /// Checks an event type against the profile, as node-ipc 14's
    /// `validateType` does (Fast accepts every string).
    ///
    /// # Errors
    ///
    /// [`CodecError::EmptyEventType`], [`CodecError::EventNameTooLong`],
    /// [`CodecError::UnsafeEventName`], [`CodecError::ReservedEvent`] or
    /// [`CodecError::EventNotAllowed`].
    pub fn check_event_type(&self, event_type: &str) -> Result<(), CodecError> {
        if self.profile == Profile::Fast {
            return Ok(());
        }
        if event_type.is_empty() {
            return Err(CodecError::EmptyEventType);
        }
        // UTF-16 units never outnumber UTF-8 bytes, so count only long names.
        if event_type.len() > self.max_event_name_length {
            let len = event_type.encode_utf16().count();
            if len > self.max_event_name_length {
                return Err(CodecError::EventNameTooLong { max: self.max_event_name_length, len });
            }
        }
        if !self.allow_prototype_names && OBJECT_PROTOTYPE_NAMES.contains(&event_type) {
            return Err(CodecError::UnsafeEventName { event_type: event_type.to_owned() });
        }
        let reserved_allowed = self.allow_reserved_events && self.profile != Profile::Assured;
        if !reserved_allowed && RESERVED_EVENT_TYPES.contains(&event_type) {
            return Err(CodecError::ReservedEvent { event_type: event_type.to_owned() });
        }
        if self.profile == Profile::Assured {
            let allowed = self.allowed_events.as_ref().is_some_and(|a| a.contains(event_type));
            if !allowed {
                return Err(CodecError::EventNotAllowed { event_type: event_type.to_owned() });
            }
        }
        Ok(())
    }
}

/// Changes a profile's [`Rules`]; start from [`Rules::builder`]. Codecs
/// check the rules when they are built ([`Rules::validate`]).
#[derive(Debug, Clone)]
pub struct RulesBuilder {
    rules: Rules,
}

impl RulesBuilder {
    /// The maximum frame size in bytes, delimiter excluded (node-ipc `maxMessageSize`).
    pub fn max_message_size(mut self, bytes: usize) -> RulesBuilder {
        self.rules.max_message_size = bytes;
        self
    }

    /// The maximum event-type length in UTF-16 code units (Guarded, Assured;
    /// node-ipc `maxEventNameLength`).
    pub fn max_event_name_length(mut self, units: usize) -> RulesBuilder {
        self.rules.max_event_name_length = units;
        self
    }

    /// The deadline for an incomplete frame; `None` disables it (node-ipc's
    /// `messageTimeout: 0`).
    pub fn message_timeout(mut self, timeout: Option<Duration>) -> RulesBuilder {
        self.rules.message_timeout = timeout;
        self
    }

    /// Lets lifecycle names (`connect`, `error`, ...) arrive as wire events under
    /// Guarded (node-ipc `allowReservedEvents`). Assured never allows them.
    pub fn allow_reserved_events(mut self, allow: bool) -> RulesBuilder {
        self.rules.allow_reserved_events = allow;
        self
    }

    /// Lets `Object.prototype` names (`__proto__`, `constructor`, ...) arrive
    /// under Guarded and Assured. node-ipc never allows them; a Rust dispatcher
    /// has no prototype to pollute, so a Rust-only deployment may.
    pub fn allow_prototype_names(mut self, allow: bool) -> RulesBuilder {
        self.rules.allow_prototype_names = allow;
        self
    }

    /// The allow-list of event types (node-ipc `allowedEvents`), required by Assured.
    pub fn allowed_events<I, S>(mut self, events: I) -> RulesBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<Box<str>>,
    {
        self.rules.allowed_events = Some(Arc::new(events.into_iter().map(Into::into).collect()));
        self
    }

    /// The rules.
    pub fn build(self) -> Rules {
        self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_accepts_every_string() {
        let rules = Rules::new(Profile::Fast);
        for name in ["", "connect", "__proto__", &"x".repeat(10_000)] {
            assert!(rules.check_event_type(name).is_ok());
        }
    }

    #[test]
    fn guarded_rejections() {
        let rules = Rules::new(Profile::Guarded);
        assert!(matches!(rules.check_event_type(""), Err(CodecError::EmptyEventType)));
        assert!(rules.check_event_type(&"x".repeat(256)).is_ok());
        assert!(matches!(
            rules.check_event_type(&"x".repeat(257)),
            Err(CodecError::EventNameTooLong { max: 256, len: 257 })
        ));
        // 128 astral characters are 256 UTF-16 units (512 bytes): allowed, as in JavaScript.
        assert!(rules.check_event_type(&"𝄞".repeat(128)).is_ok());
        assert!(rules.check_event_type(&"𝄞".repeat(129)).is_err());
        for name in RESERVED_EVENT_TYPES {
            assert!(matches!(rules.check_event_type(name), Err(CodecError::ReservedEvent { .. })), "{name}");
        }
        for name in OBJECT_PROTOTYPE_NAMES {
            assert!(
                matches!(rules.check_event_type(name), Err(CodecError::UnsafeEventName { .. })),
                "{name}"
            );
        }
        let lenient =
            Rules::builder(Profile::Guarded).allow_reserved_events(true).allow_prototype_names(true).build();
        assert!(lenient.check_event_type("connect").is_ok());
        assert!(lenient.check_event_type("__proto__").is_ok());
    }

    #[test]
    fn assured_needs_an_allow_list_and_enforces_it() {
        assert!(matches!(Rules::new(Profile::Assured).validate(), Err(CodecError::Config(_))));
        let rules = Rules::builder(Profile::Assured)
            .allowed_events(["a", "connect"])
            .allow_reserved_events(true)
            .build();
        rules.validate().unwrap();
        assert!(rules.check_event_type("a").is_ok());
        assert!(matches!(rules.check_event_type("b"), Err(CodecError::EventNotAllowed { .. })));
        // Assured never lets lifecycle names in, even when listed.
        assert!(matches!(rules.check_event_type("connect"), Err(CodecError::ReservedEvent { .. })));
    }

    #[test]
    fn profile_defaults_match_node_ipc_14() {
        let guarded = Rules::new(Profile::Guarded);
        assert_eq!(guarded.max_message_size(), 1024 * 1024);
        assert_eq!(guarded.message_timeout(), Some(Duration::from_secs(30)));
        let fast = Rules::new(Profile::Fast);
        assert_eq!(fast.max_message_size(), 16 * 1024 * 1024);
        assert_eq!(fast.message_timeout(), None);
        assert_eq!("assured".parse::<Profile>().unwrap(), Profile::Assured);
    }
}
