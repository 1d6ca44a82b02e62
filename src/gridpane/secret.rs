//! The token the client sends.

/// A secret string (the GridPane token): `secrecy`'s `SecretString`. Its
/// `Debug` prints `SecretBox<str>([REDACTED])`, it has no `Display` (so
/// `{token}` in a message or log does not compile), and its memory is
/// zeroed when dropped. [`ExposeSecret::expose_secret`] is the only way to
/// read the value: call it where the value is sent.
pub type Secret = secrecy::SecretString;

pub use secrecy::ExposeSecret;
